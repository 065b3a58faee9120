"""The aws backend against a moto server posing as AWS: deploy with waiters, run tags, delete (confirmed),
an existing stack adopted and never deleted, `gameday plan` resolving targets, and every refusal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday import stacks
from gameday.backends.aws import AwsBackend, AwsOptions, _system_resolver
from gameday.backends.base import Resolver
from gameday.errors import ConfigError
from gameday.kits import Deployment, load_kits
from gameday.stacks import StackSpec
from tests.integration.test_aws_sandbox import ACCOUNT, ROOT, aws_backend, child_env, client, moto_server, set_aws_env

pytestmark = pytest.mark.integration

REGION = "us-west-2"
STACK = "eip-self-healing"
# A stack whose output names an Auto Scaling group that is not its own: the guard must refuse it.
IMPOSTOR = """
Resources:
  Marker:
    Type: AWS::SNS::Topic
Outputs:
  AutoScalingGroupName:
    Value: bystander-group
"""
# moto's delete_stack cannot delete a VPC with dependencies (localcloud adds the deleters it lacks),
# so the deploy/delete round trip uses resources moto deletes by itself.
SMALL = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Bucket:
    Type: AWS::S3::Bucket
Outputs:
  TopicArn:
    Value: !Ref Topic
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


@pytest.fixture(scope="module")
def staging(endpoint: str) -> str:
    """A long-lived stack, deployed the way an operator would, outside any game day."""
    with pytest.MonkeyPatch.context() as patch:
        set_aws_env(patch)
        with aws_backend(endpoint, REGION, "staging") as backend:
            return stacks.deploy(backend, StackSpec(STACK, {"ZoneName": "staging.gameday.test"}), "staging").name


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=120)


def test_deploy_tags_the_run_waits_and_delete_is_confirmed(endpoint: str, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SMALL)
    cfn = client(endpoint, REGION, "cloudformation")

    with aws_backend(endpoint, REGION, "r9") as backend:
        stack = stacks.deploy(backend, StackSpec("small", {}, template), "r9")
        tags = {t["Key"]: t["Value"] for t in cfn.describe_stacks(StackName=stack.stack_arn)["Stacks"][0]["Tags"]}
        scope = backend.scope()
        stacks.delete(backend, stack)
        scope_after = backend.scope()

    assert stack.name == "gd-r9-small"
    assert tags == {"gameday:run": "r9", "gameday:stack": "small"}
    assert stack.output("TopicArn").startswith("arn:aws:sns:")
    assert scope.stacks == ("gd-r9-small",) and stack.output("TopicArn") in scope.resources
    assert cfn.describe_stacks(StackName=stack.stack_arn)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert scope_after.stacks == ()  # a deleted stack is out of the blast radius


def test_existing_stack_is_adopted_never_deployed_or_deleted(endpoint: str, staging: str) -> None:
    cfn = client(endpoint, REGION, "cloudformation")
    before = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}

    with aws_backend(endpoint, REGION, "r10", existing_stack=staging) as backend:
        stack = stacks.adopt(backend, staging, StackSpec(STACK))
        stacks.delete(backend, stack)
        spec = load_kits().scenario("eip-self-healing/terminate-instance").faults[0]
        fault = spec.build(backend, Deployment(STACK, {"main": stack}))
        backend.target_guard.check(fault.plan())  # its instance is inside the named stack

    assert stack.name == staging
    assert {s["StackName"] for s in cfn.describe_stacks()["Stacks"]} == before
    assert cfn.describe_stacks(StackName=staging)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_plan_resolves_targets_against_an_existing_stack(endpoint: str, staging: str) -> None:
    done = gameday("plan", STACK, "--existing-stack", staging, "--endpoint-url", endpoint, "--region", REGION,
                   "--allow-account", ACCOUNT)

    assert done.returncode == 0, done.stderr
    instance = client(endpoint, REGION, "autoscaling").describe_auto_scaling_groups()
    assert "    target   ec2:instance i-" in done.stdout
    assert "inside the blast radius: inside" in done.stdout and f"a resource of stack {staging}" in done.stdout
    assert "revert   group " in done.stdout and "[asg.restore-capacity]" in done.stdout
    assert instance  # read-only: nothing else to assert than the unchanged stack below
    assert client(endpoint, REGION, "cloudformation").describe_stacks(StackName=staging)["Stacks"][0][
        "StackStatus"] == "CREATE_COMPLETE"


def test_target_outside_the_named_stack_is_refused_by_plan(endpoint: str) -> None:
    cfn, ec2 = client(endpoint, REGION, "cloudformation"), client(endpoint, REGION, "ec2")
    autoscaling = client(endpoint, REGION, "autoscaling")
    cfn.create_stack(StackName="impostor", TemplateBody=IMPOSTOR)
    ec2.create_launch_template(LaunchTemplateName="bystander", LaunchTemplateData={"ImageId": "ami-12345678"})
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="bystander-group", MinSize=1, MaxSize=1,
                                          LaunchTemplate={"LaunchTemplateName": "bystander"},
                                          VPCZoneIdentifier=subnet)
    before = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["bystander-group"])

    done = gameday("plan", STACK, "--existing-stack", "impostor", "--endpoint-url", endpoint, "--region", REGION,
                   "--allow-account", ACCOUNT)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "refused: terminate-instance would touch ec2:instance i-" in done.stderr
    assert "outside the blast radius (stack impostor (1 resources))" in done.stderr
    assert "REFUSED" in done.stdout
    after = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["bystander-group"])
    assert after["AutoScalingGroups"][0]["Instances"] == before["AutoScalingGroups"][0]["Instances"]


@pytest.mark.parametrize(("extra", "message"), [
    (("--allow-account", "111111111111"), "refused: the credentials are for account 123456789012"),
    ((), "refused: no account is allowed"),
])
def test_wrong_or_no_account_is_refused_before_anything(endpoint: str, staging: str, extra: tuple[str, ...],
                                                       message: str, tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    done = gameday("plan", STACK, "--existing-stack", staging, "--endpoint-url", endpoint, "--region", REGION,
                   "--config", str(tmp_path / "empty.toml"), *extra)

    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_unknown_existing_stack_is_refused(endpoint: str) -> None:
    done = gameday("plan", STACK, "--existing-stack", "no-such-stack", "--endpoint-url", endpoint, "--region",
                   REGION, "--allow-account", ACCOUNT)

    assert done.returncode == 2
    assert "refused: stack 'no-such-stack' not found" in done.stderr and done.stderr.count("\n") == 1


def test_pytest_session_with_a_wrong_account_ends_in_one_line(endpoint: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/test_eip_self_healing.py", "-m", "scenario", "-q",
         "-p", "no:cacheprovider", "-o", "testpaths=scenarios", "--backend", "aws", "--endpoint-url", endpoint,
         "--region", REGION, "--allow-account", "111111111111", "--report-dir", str(tmp_path)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300)

    # pytest's own usage-error code (its 2 means interrupted); `gameday run` turns it into 2 with the line.
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:]
    assert "gameday: refused: the credentials are for account 123456789012" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_options_are_checked_before_any_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError, match="no AWS region"):
        AwsOptions.resolve(config=tmp_path / "empty.toml")
    with pytest.raises(ConfigError, match="--aws-profile"):
        AwsOptions.resolve(region="eu-west-1", profile_name="bad profile")
    options = AwsOptions.resolve(region="eu-west-1", allow_accounts=["111111111111"], endpoint_url="http://x:1/")
    assert options.endpoint_url == "http://x:1" and options.allow_accounts == {"111111111111"}


def test_run_scope_takes_the_runs_suffixed_deploys_and_nothing_else(endpoint: str, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SMALL)
    with aws_backend(endpoint, REGION, "r5") as backend:
        mine = stacks.deploy(backend, StackSpec("small", {}, template), "r5-sih", run_tag="r5")
        longer = stacks.deploy(backend, StackSpec("small", {}, template), "r5-x1")  # run r5-x1, not r5's
        other = stacks.deploy(backend, StackSpec("small", {}, template), "r50")
        try:
            scope = backend.scope()
        finally:
            for stack in (mine, longer, other):
                stacks.delete(backend, stack)

    assert scope.stacks == ("gd-r5-sih-small",)
    assert scope.run_ids == {"r5"}


def test_resolvers_are_the_ones_named_and_none_are_guessed_for_a_stand_in(endpoint: str, tmp_path: Path) -> None:
    """Against an endpoint on loopback (moto, localcloud) the hosted zones' name servers are fake names: no
    lookup leaves the machine; the run names the stand-in's DNS servers with --resolver."""
    with aws_backend(endpoint, REGION, "r11") as backend:
        assert backend.resolvers() == []
    named = AwsOptions.resolve(region=REGION, endpoint_url=endpoint, allow_accounts=[ACCOUNT],
                               resolvers=[Resolver("authoritative", "127.0.0.1", 5300, "authoritative")])
    assert [r.port for r in AwsBackend(named).resolvers()] == [5300]
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# comment\nsearch example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n")
    assert _system_resolver(resolv) == "10.0.0.2"
    assert _system_resolver(tmp_path / "missing") is None
