"""FIS export: valid input for fis.create_experiment_template (checked by botocore and moto), the right
actions and target tags, and plain words for what FIS cannot express."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import ConfigError
from gameday.fis import FisContext, export, fis_equivalent
from gameday.kits import FaultSpec, ScenarioSpec, StopSpec, load_kits
from tests.integration.test_aws_sandbox import ROOT, child_env, client, moto_server


def _unused(*_: Any) -> Any:
    raise AssertionError("export never builds faults")


def _spec(fault: str, **settings: str) -> FaultSpec:
    return FaultSpec(fault, f"targets of {fault}", "revert", _unused, settings)


EVERYTHING = ScenarioSpec(
    "static-ip-haproxy/everything", "static-ip-haproxy", "every fault at once",
    tuple(_spec(f) for f in ("terminate-instance", "block-az-security-groups", "block-az-nacl",
                             "scale-ecs-service", "deny-bucket-policy")) + (_spec("spot-interruption"),),
    _unused, StopSpec(probe="http:eip", floor=0.9, alarms=("errors-high",)))
CONTEXT = FisContext("gd-r1-static-ip-haproxy", "eu-west-1", account="123456789012", az="eu-west-1a",
                     role_arn="arn:aws:iam::123456789012:role/fis")


def test_every_catalog_scenario_exports_to_a_template_fis_accepts_or_says_why_not() -> None:
    exported_ids = []
    with moto_server() as url:
        fis = client(url, "eu-west-1", "fis")
        for scenario in load_kits().scenarios():
            scenario_id = scenario.scenario_id
            try:
                exported = export(scenario, FisContext(scenario.stack_id, "eu-west-1", az="eu-west-1b"))
            except ConfigError as refused:
                assert str(refused).startswith(f"FIS can express none of the faults of {scenario_id}: ")
                assert all(spec.fault in str(refused) for spec in scenario.faults)
                continue
            created = fis.create_experiment_template(clientToken=scenario_id.replace("/", "-"), **exported.template)

            assert created["experimentTemplate"]["tags"]["gameday:scenario"] == scenario_id
            exported_ids.append(scenario_id)

    assert "eip-self-healing/terminate-instance" in exported_ids


def test_a_named_logical_id_targets_exactly_that_resource() -> None:
    scenario = ScenarioSpec("x/loss", "x", "stop one", (_spec("backend-loss", logical_id="BlueBackend"),), _unused)

    (target,) = export(scenario, CONTEXT).template["targets"].values()
    (action,) = export(scenario, CONTEXT).template["actions"].values()

    assert target["resourceTags"] == {"aws:cloudformation:stack-name": "gd-r1-static-ip-haproxy",
                                      "aws:cloudformation:logical-id": "BlueBackend"}
    assert action["actionId"] == "aws:ec2:stop-instances"
    assert action["parameters"] == {"startInstancesAfterDuration": "PT5M"}


def test_actions_targets_and_stop_conditions() -> None:
    exported = export(EVERYTHING, CONTEXT)
    template = exported.template

    actions = {a["actionId"]: a for a in template["actions"].values()}
    assert set(actions) == {"aws:ec2:terminate-instances", "aws:network:disrupt-connectivity",
                            "aws:ec2:send-spot-instance-interruptions"}
    disrupt = actions["aws:network:disrupt-connectivity"]
    assert disrupt["parameters"] == {"scope": "all", "duration": "PT5M"}
    subnets = template["targets"][disrupt["targets"]["Subnets"]]
    assert subnets["resourceType"] == "aws:ec2:subnet"
    assert subnets["resourceTags"] == {"aws:cloudformation:stack-name": "gd-r1-static-ip-haproxy"}
    assert subnets["filters"] == [{"path": "AvailabilityZone", "values": ["eu-west-1a"]}]
    spot = actions["aws:ec2:send-spot-instance-interruptions"]
    assert spot["parameters"] == {"durationBeforeInterruption": "PT2M"}
    assert template["stopConditions"] == [
        {"source": "aws:cloudwatch:alarm", "value": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:errors-high"}]
    assert template["roleArn"] == "arn:aws:iam::123456789012:role/fis"


def test_what_fis_cannot_express_is_said_plainly() -> None:
    exported = export(EVERYTHING, CONTEXT)

    unsupported = dict(exported.unsupported)
    assert set(unsupported) == {"block-az-security-groups", "scale-ecs-service", "deny-bucket-policy"}
    assert "no security-group action" in unsupported["block-az-security-groups"]
    assert "desired count" in unsupported["scale-ecs-service"]
    assert any("availability of http:eip below 90%" in n and "CloudWatch alarms" in n for n in exported.notes)
    assert fis_equivalent("deny-bucket-policy").startswith("none: FIS has no S3 bucket-policy action")


def test_nothing_expressible_or_no_zone_is_a_one_line_error() -> None:
    only_sg = ScenarioSpec("x/sg", "x", "sg", (_spec("block-az-security-groups"),), _unused)
    zoneless = ScenarioSpec("x/nacl", "x", "nacl", (_spec("block-az-nacl"),), _unused)

    with pytest.raises(ConfigError, match="FIS can express none of the faults of x/sg: block-az-security-groups"):
        export(only_sg, CONTEXT)
    with pytest.raises(ConfigError, match="pass --az"):
        export(zoneless, FisContext("s", "eu-west-1"))
    assert export(zoneless, CONTEXT).template["targets"]


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=60)


def test_cli_writes_the_template_and_notes(tmp_path: Path) -> None:
    out = tmp_path / "fis.json"

    done = gameday("export-fis", "eip-self-healing/terminate-instance", "--out", str(out), "--account",
                   "123456789012", "--alarm", "eip-5xx", "--stack-name", "staging-eip")

    assert done.returncode == 0, done.stderr
    template = json.loads(out.read_text())
    assert template["stopConditions"][0]["value"].endswith(":123456789012:alarm:eip-5xx")
    (target,) = template["targets"].values()
    assert target["resourceTags"] == {"aws:cloudformation:stack-name": "staging-eip"}
    assert "stop condition not expressible in FIS: availability of http:eip" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (("export-fis", "nope"), "unknown scenario 'nope'"),
    (("export-fis", "eip-self-healing/terminate-instance", "--role-arn", "x"), "--role-arn: 'x' is not valid"),
    (("export-fis", "eip-self-healing/terminate-instance", "--account", "12"), "12-digit"),
    (("export-fis", "eip-self-healing/terminate-instance", "--out", "/nonexistent/dir/x.json"), "cannot write"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    done = gameday(*args)

    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
