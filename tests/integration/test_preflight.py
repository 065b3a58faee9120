"""Pre-flight against deployed resources: health checks, TTLs and failover codes read through the AWS APIs (a
moto server, localcloud), and the front door refusing a stack whose prediction is over a tighter budget after
deploying it, before any fault."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gameday.backends.aws import AwsBackend
from gameday.kits.kit import Deployment
from gameday.kits.origin_group.model import failover_codes_check
from gameday.preflight import PreflightContext, deployed_configuration
from gameday.stacks import DeployedStack, StackSpec
from localcloud import profiles
from tests.integration.test_aws_sandbox import aws_backend, set_aws_env
from tests.moto_server import moto_server

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
TEMPLATE: dict[str, Any] = {
    "Parameters": {"Domain": {"Type": "String", "Default": "pf.test"}, "Ttl": {"Type": "Number", "Default": "60"}},
    "Resources": {
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "pf.test"}},
        "Check": {"Type": "AWS::Route53::HealthCheck", "Properties": {"HealthCheckConfig": {
            "Type": "HTTP", "IPAddress": "192.0.2.1", "Port": 80, "ResourcePath": "/health", "RequestInterval": 10,
            "FailureThreshold": 3}}},
        "Record": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": {"Fn::Sub": "www.${Domain}"}, "Type": "A", "TTL": {"Ref": "Ttl"},
            "ResourceRecords": ["192.0.2.1"]}},
    }}


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsBackend]:
    set_aws_env(monkeypatch)
    with moto_server() as url, aws_backend(url, REGION, "pf") as backend:
        yield backend


def _deployed(backend: AwsBackend, ttl: int) -> DeployedStack:
    """What CloudFormation would have made from TEMPLATE, made through the same APIs."""
    route53 = backend.client("route53")
    zone = route53.create_hosted_zone(Name="pf.test", CallerReference="pf")["HostedZone"]["Id"].split("/")[-1]
    check = route53.create_health_check(CallerReference="pf", HealthCheckConfig={
        **TEMPLATE["Resources"]["Check"]["Properties"]["HealthCheckConfig"]})["HealthCheck"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT",
        "ResourceRecordSet": {"Name": "www.pf.test", "Type": "A", "TTL": ttl,
                              "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})
    return DeployedStack(StackSpec("pf"), "pf-stack", "arn:pf", {},
                         {"Zone": ("AWS::Route53::HostedZone", zone), "Check": ("AWS::Route53::HealthCheck", check),
                          "Record": ("AWS::Route53::RecordSet", "www.pf.test")},
                         template=TEMPLATE, parameters={"Domain": "pf.test", "Ttl": "60"})


def test_the_deployed_health_check_and_ttl_as_configured_pass(moto: AwsBackend) -> None:
    checks = deployed_configuration(moto, _deployed(moto, ttl=60))

    assert [(c.name, c.ok) for c in checks] == [("Route 53 health check", True), ("record TTL", True)]
    assert "RequestInterval 10, FailureThreshold 3" in checks[0].detail and "TTL 60 s" in checks[1].detail


def test_a_threshold_and_a_ttl_changed_after_the_deploy_contradict_the_model(moto: AwsBackend) -> None:
    stack = _deployed(moto, ttl=300)
    moto.client("route53").update_health_check(HealthCheckId=stack.physical_id("Check"), FailureThreshold=5)

    checks = {c.name: c for c in deployed_configuration(moto, stack)}

    assert not checks["Route 53 health check"].ok
    assert "FailureThreshold 5 (configured 3)" in checks["Route 53 health check"].detail
    assert not checks["record TTL"].ok and "TTL 300 s (configured 60 s)" in checks["record TTL"].detail


def _distribution(codes: list[int]) -> DeployedStack:
    """An origin group as CloudFormation holds it, whose distribution the backend's CloudFront API does not know
    (as on localcloud, which serves CloudFormation's distributions outside moto's CloudFront)."""
    group = {"Id": "site", "FailoverCriteria": {"StatusCodes": {"Quantity": len(codes), "Items": codes}},
             "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "replica"}]}}
    template = {"Resources": {"Distribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {
        "DistributionConfig": {"OriginGroups": {"Quantity": 1, "Items": [group]}}}}}}
    return DeployedStack(StackSpec("origin-group"), "og-stack", "arn:og", {},
                         {"Distribution": ("AWS::CloudFront::Distribution", "E0NOTKNOWN")}, template=template)


def test_origin_group_failover_codes_are_printed_with_where_they_were_read(moto: AwsBackend) -> None:
    [check] = deployed_configuration(moto, _distribution([500, 502, 503, 504, 403, 404]))

    assert check.ok and check.name == "origin group site"
    assert "failover codes 500, 502, 503, 504, 403, 404 (from the deployed template" in check.detail


def test_failover_codes_without_403_refuse_the_deny_bucket_scenario(moto: AwsBackend) -> None:
    [check] = failover_codes_check("deny-bucket-policy")
    ctx = PreflightContext(moto, profiles.load("fast"))

    [refused] = check(ctx, Deployment("origin-group", {"main": _distribution([500, 502, 503, 504])}))
    [passed] = check(ctx, Deployment("origin-group", {"main": _distribution([500, 403])}))

    assert not refused.ok and "missing 403, which the primary answers under deny-bucket-policy" in refused.detail
    assert passed.ok
    assert failover_codes_check("region-unreachable") == ()  # a black hole needs no code


def _gameday(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})


@pytest.fixture
def tight_budgets(tmp_path: Path) -> Path:
    """gameday.toml with the terminate-proxy budget below its 9.5 s prediction."""
    text = (ROOT / "gameday.toml").read_text()
    table = "[budgets.static-ip-haproxy.terminate-instance]\nfast = 15.0"
    assert table in text
    path = tmp_path / "tight.toml"
    path.write_text(text.replace(table, "[budgets.static-ip-haproxy.terminate-instance]\nfast = 5.0"))
    return path


def test_gameday_preflight_deploys_checks_and_refuses_a_tighter_budget(tmp_path: Path, tight_budgets: Path) -> None:
    done = _gameday("preflight", "--stack", "static-ip-haproxy", "--budgets", str(tight_budgets), cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert "deploying its stack" in done.stdout and "ok   " in done.stdout  # the deployed checks that passed
    assert "Route 53 health check: RequestInterval 10, FailureThreshold 3" in done.stdout
    [refused] = done.stderr.strip().splitlines()  # one reason: only terminate-proxy's budget was tightened
    assert "pre-flight refused static-ip-haproxy/terminate-proxy" in refused
    assert "predicted 9.50 s" in refused and "OVER the budget 5.00 s" in refused
    assert "ok   static-ip-haproxy/backend-loss: prediction within budget" in done.stdout


def test_gameday_run_refuses_a_tighter_budget_before_any_fault(tmp_path: Path, tight_budgets: Path) -> None:
    done = _gameday("run", "--stack", "static-ip-haproxy", "--budgets", str(tight_budgets), "--report-dir",
                    str(tmp_path / "reports"), "--run-id", "pf-run", cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert "pre-flight refused static-ip-haproxy/terminate-proxy" in done.stderr
    assert not (tmp_path / "reports" / "pf-run" / "rollback.jsonl").exists()  # nothing journalled: no fault


def test_a_setting_cloudformation_resolves_is_left_to_it(moto: AwsBackend) -> None:
    stack = _deployed(moto, ttl=60)
    conditional = {"Fn::If": ["HasCertificate", "HTTPS", "HTTP"]}
    check = {**TEMPLATE["Resources"]["Check"], "Properties": {"HealthCheckConfig": {
        **TEMPLATE["Resources"]["Check"]["Properties"]["HealthCheckConfig"], "Type": conditional}}}
    template = {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "Check": check}}

    checks = deployed_configuration(moto, replace(stack, template=template))

    assert all(c.ok for c in checks) and "Type HTTP" in checks[0].detail


def test_gameday_preflight_refuses_a_load_three_proxies_cannot_carry(tmp_path: Path) -> None:
    done = _gameday("preflight", "--stack", "static-ip-haproxy", "--load", "steady", "--load-rate", "9000",
                    cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    [refused] = done.stderr.strip().splitlines()  # the kit's own check, said once for the five scenarios
    assert "static-ip-haproxy proxies: N-1 capacity: 3 of 4 nodes carry 7500 requests/s" in refused
    assert "peaks at 9000 requests/s: more than they carry" in refused
