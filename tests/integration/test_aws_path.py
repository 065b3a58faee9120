"""localcloud standing in for an AWS account: a standalone `python -m localcloud serve`, each reference stack
deployed on it by hand with boto3 as a team would (untagged, its own names), then the front door:
`gameday run --backend aws --endpoint-url … --existing-stack …`. Every core scenario passes, gameday deploys
nothing and deletes nothing, and the report says backend aws and the profile the numbers were judged against.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud import profiles
from localcloud.timescale import scaled
from tests.integration.test_aws_sandbox import ACCOUNT, ROOT, child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STACKS = ROOT / "stacks"
REGION = "us-east-1"
REPLICA_REGION = "us-west-2"


@dataclass(frozen=True)
class Account:
    """The stand-in account: where its API answers and its DNS servers (the team's resolvers)."""

    endpoint: str
    dns: dict[str, dict[str, Any]]
    control: str  # localcloud's own API: only to find a VPC's DNS server, as a team knows it inside its VPC

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def vpc_dns(self, vpc_id: str) -> tuple[str, int]:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        with no_proxy.open(f"{self.control}/info", timeout=10) as response:
            info = json.loads(response.read())
        for server in info.get("dns", {}).values():
            listener = server.get("vpc_listeners", {}).get(vpc_id)
            if listener:
                return str(listener["host"]), int(listener["port"])
        raise AssertionError(f"no DNS server answers inside {vpc_id}")

    def resolver_args(self) -> list[str]:
        args: list[str] = []
        for name, spec in sorted(self.dns.items()):
            label = "authoritative" if spec.get("kind") == "authoritative" else name
            args += ["--resolver", f"{label}={spec['host']}:{spec['port']}"]
        return args

    def stacks(self) -> set[tuple[str, str, str]]:
        """(region, name, status) of every stack the account has, deleted ones included."""
        found = set()
        for region in (REGION, REPLICA_REGION):
            for page in self.client("cloudformation", region).get_paginator("list_stacks").paginate():
                found |= {(region, s["StackName"], s["StackStatus"]) for s in page["StackSummaries"]}
        return found


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    env = child_env()
    proc = subprocess.Popen([sys.executable, "-m", "localcloud", "serve", "--profile", "fast"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] is True
        yield Account(ready["endpoint_url"], ready["dns"], ready["control_url"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def deploy(account: Account, name: str, template: Path, region: str = REGION, **parameters: str) -> dict[str, str]:
    """What a team does by hand: create the stack, wait, read its outputs."""
    cfn = account.client("cloudformation", region)
    cfn.create_stack(StackName=name, TemplateBody=template.read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])} | {"StackId": stack["StackId"]}


def run_gameday(account: Account, tmp_path: Path, stack: str, extra: list[str]) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "gameday", "run", "--backend", "aws", "--endpoint-url", account.endpoint,
               "--region", REGION, "--allow-account", ACCOUNT, "--profile", "fast", "--stack", stack,
               "--report-dir", str(tmp_path), "--run-id", f"aws-{stack[:20]}", *account.resolver_args(), *extra]
    done = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=900)
    report = tmp_path / f"aws-{stack[:20]}" / "report.json"
    data = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, data, done.stdout[-4000:] + done.stderr[-4000:]


def existing(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--existing-stack", name)]


def deploy_eip(account: Account) -> list[str]:
    deploy(account, "team-web", STACKS / "eip-self-healing" / "template.yaml", ZoneName="web.team.test")
    return existing("team-web")


def deploy_origin_group(account: Account) -> list[str]:
    """The distribution and primary bucket, the replica bucket in another region, the site in both."""
    main = deploy(account, "team-cdn", STACKS / "origin-group" / "template.yaml", ReplicaRegion=REPLICA_REGION,
                  ReplicaBucketName="team-cdn-replica")
    replica = deploy(account, "team-cdn-replica", STACKS / "origin-group" / "replica.yaml", REPLICA_REGION,
                     ReplicaBucketName="team-cdn-replica", DistributionArn=main["DistributionArn"])
    for role, bucket, region in (("primary", main["PrimaryBucketName"], REGION),
                                 ("replica", "team-cdn-replica", REPLICA_REGION)):
        for key in ("index.html", "static/logo.txt"):  # who served: the copy names itself (stack README)
            account.client("s3", region).put_object(Bucket=bucket, Key=key, Body=b"<html>team site</html>\n",
                                                     ContentType="text/html",
                                                     Metadata={"served-by": f"{role}/{bucket}"})
    return existing("origin-group.main=team-cdn", f"origin-group.replica={replica['StackId']}")


def deploy_fargate(account: Account) -> list[str]:
    """The service behind an ALB with its certificate, the fallback page in its bucket."""
    zone = "shop.team.test"
    certificate = account.client("acm").request_certificate(DomainName=f"*.{zone}")["CertificateArn"]
    outputs = deploy(account, "team-shop", STACKS / "dns-failover-fargate" / "template.yaml", ZoneName=zone,
                     CertificateArn=certificate)
    account.client("s3").put_object(Bucket=outputs["FallbackBucketName"], Key="index.html",
                                    Body=b"<html><body>Fallback.</body></html>\n", ContentType="text/html")
    return existing("team-shop")


def deploy_static_ip(account: Account) -> list[str]:
    """Four HAProxy nodes on static addresses behind health-checked weighted records; TTLs as in fast."""
    fast = profiles.load("fast")
    deploy(account, "team-edge-proxies", STACKS / "static-ip-haproxy" / "template.yaml", ZoneName="api.team.test",
           RecordTtl=str(round(scaled(fast, "route53.record_ttl", 60))), BackendTtl="1")
    return existing("team-edge-proxies")


def deploy_spot(account: Account) -> list[str]:
    """Each variant: the origin (a private IPv6 Spot instance and its record), then, once it runs, the edge
    bound to it, the maintenance page in its bucket. The probes ask each VPC's own DNS server, as gameday
    would from inside the VPC."""
    fast = profiles.load("fast")
    args: list[str] = []
    for variant in ("user-data", "lifecycle-hook", "cloud-map"):
        name = f"team-origin-{variant}"
        origin = deploy(account, name, STACKS / "spot-vpc-origin" / "template.yaml", Variant=variant,
                        ZoneName=f"{variant}.team.test", RecordTtl=str(round(scaled(fast, "route53.record_ttl", 30))),
                        HookHeartbeatTimeout="900")
        instance = running_instance(account, origin["AutoScalingGroupName"])
        edge = deploy(account, f"team-edge-{variant}", STACKS / "spot-vpc-origin" / "edge.yaml",
                      OriginName=origin["OriginName"],
                      VpcOriginEndpointArn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{instance}",
                      ConnectionTimeout=str(max(1, round(scaled(fast, "cloudfront.connection_timeout", 10)))),
                      ErrorCachingMinTTL=str(round(scaled(fast, "cloudfront.error_caching_min_ttl", 10))))
        account.client("s3").put_object(Bucket=edge["MaintenanceBucketName"], Key="index.html",
                                        Body=b"<html><body>Down for maintenance.</body></html>\n",
                                        ContentType="text/html")
        host, port = account.vpc_dns(origin["VpcId"])
        args += existing(f"spot-vpc-origin.{variant}.origin={name}",
                         f"spot-vpc-origin.{variant}.edge=team-edge-{variant}")
        args += ["--resolver", f"{origin['VpcId']}={host}:{port}"]
    return args


def running_instance(account: Account, group: str, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = account.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        members = [i["InstanceId"] for i in found["AutoScalingGroups"][0]["Instances"]
                   if i["LifecycleState"] == "InService"]
        if members:
            return str(members[0])
        time.sleep(1.0)
    raise AssertionError(f"{group} has no InService instance after {timeout_s:.0f} s")


HAND_DEPLOYS: dict[str, Callable[[Account], list[str]]] = {
    "eip-self-healing": deploy_eip,
    "origin-group": deploy_origin_group,
    "dns-failover-fargate": deploy_fargate,
    "spot-vpc-origin": deploy_spot,
    "static-ip-haproxy": deploy_static_ip,
}


@pytest.mark.parametrize("stack", sorted(HAND_DEPLOYS))
def test_a_stack_deployed_by_hand_runs_through_the_aws_front_door(account: Account, tmp_path: Path,
                                                                   stack: str) -> None:
    extra = HAND_DEPLOYS[stack](account)
    before = account.stacks()

    code, data, output = run_gameday(account, tmp_path, stack, extra)

    assert code == 0, output
    assert data["backend"] == "aws" and data["profile"] == "fast"
    assert "judged against time profile fast" in data["label"]
    assert data["scenarios"] and all(s["verdict"] == "passed" for s in data["scenarios"]), output
    assert account.stacks() == before  # nothing created, nothing deleted
    journal = [json.loads(line) for line in (tmp_path / f"aws-{stack[:20]}" / "rollback.jsonl").read_text()
               .splitlines()]
    records = [e for e in journal if e["op"] == "record"]
    assert records and all(e["backend"]["name"] == "aws" and e["backend"]["endpoint_url"] == account.endpoint
                           for e in records)  # the journal says where to replay each revert
    assert {e["id"] for e in journal if e["op"] == "reverted"} == {e["id"] for e in records}
