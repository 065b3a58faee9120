"""Predictors read the stack's own configuration from its template (not copied by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.kits.eip_self_healing import model as eip
from gameday.stacks import DeployedStack, StackSpec, stack_config
from gameday.template import load_template
from localcloud import profiles

TEMPLATE = """
Parameters:
  Threshold: {Type: Number, Default: 3}
Resources:
  Check:
    Type: AWS::Route53::HealthCheck
    Properties:
      HealthCheckConfig:
        RequestInterval: 10
        FailureThreshold: !Ref Threshold
        FullyQualifiedDomainName: !Sub "app.${AWS::StackName}"
"""


def deployed(tmp_path: Path, **parameters: str) -> DeployedStack:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return DeployedStack(StackSpec("x", parameters, path), "gd-x", "arn", {}, {})


def test_refs_resolve_to_the_deployed_parameters_else_the_default(tmp_path: Path) -> None:
    assert stack_config("x", deployed(tmp_path)).number("Check", "HealthCheckConfig", "FailureThreshold") == 3
    config = stack_config("x", deployed(tmp_path, Threshold="5"))

    assert config.number("Check", "HealthCheckConfig", "FailureThreshold") == 5
    assert config.number("Check", "HealthCheckConfig", "RequestInterval") == 10
    name = config.value("Check", "HealthCheckConfig", "FullyQualifiedDomainName")
    assert name == {"Fn::Sub": "app.${AWS::StackName}"}
    assert list(config.resources("AWS::Route53::HealthCheck")) == ["Check"]


def test_the_deployed_template_and_parameters_win_over_the_repos_file(tmp_path: Path) -> None:
    """An adopted stack's prediction reads what CloudFormation holds, not the template in this repo."""
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    body = load_template(path)
    body["Resources"]["Check"]["Properties"]["HealthCheckConfig"]["RequestInterval"] = 30
    stack = DeployedStack(StackSpec("x", {}, path), "gd-x", "arn", {}, {}, template=body,
                          parameters={"Threshold": "7"}, adopted=True)

    config = stack_config("x", stack)
    assert config.number("Check", "HealthCheckConfig", "RequestInterval") == 30
    assert config.number("Check", "HealthCheckConfig", "FailureThreshold") == 7


def test_every_reference_template_parses_with_its_short_tags() -> None:
    for template in Path(__file__).resolve().parents[2].glob("stacks/*/template.yaml"):
        assert "Resources" in load_template(template)


def test_eip_phases_say_which_measured_phase_they_end_at() -> None:
    prediction = eip.terminate_instance(profiles.load("fast"), None)

    assert prediction is not None
    assert [p.ends_at for p in prediction.phases] == ["detection", "control_plane", "", "booted", "", "routed"]
    assert prediction.mean_s == pytest.approx(14.7)
