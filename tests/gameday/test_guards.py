from pathlib import Path

import pytest

from gameday.errors import ConfigError
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.guards import (
    AccountRefused,
    AwsConfig,
    BlastRadiusGuard,
    Scope,
    TargetRefused,
    check_account,
    check_region,
    load_config,
    parse_accounts,
)

SCOPE = Scope(stacks=("gd-r1-web",), resources={"sg-1": "gd-r1-web", "vpc-1": "gd-r1-web", "grp": "gd-r1-web"},
              run_ids=frozenset({"r1", "r1-0"}))


def plan(*targets: Target) -> FaultPlan:
    return FaultPlan("block-az-nacl", targets, "block", RevertAction("none"))


@pytest.mark.parametrize(("target", "why"), [
    (Target("ec2:security-group", "sg-1"), "a resource of stack gd-r1-web"),
    (Target("ec2:subnet", "subnet-9", parents=("vpc-1",)), "inside vpc-1, a resource of stack gd-r1-web"),
    (Target("ec2:instance", "i-1", parents=("grp",)), "inside grp"),
    (Target("ecs:service", "arn:svc", aliases=("sg-1",)), "a resource of stack"),
    (Target("ec2:instance", "i-2", {"aws:cloudformation:stack-name": "gd-r1-web"}), "tagged aws:cloudformation"),
    (Target("s3:bucket", "b", {"gameday:run": "r1-0"}), "tagged gameday:run=r1-0"),
])
def test_inside_the_blast_radius_says_why(target: Target, why: str) -> None:
    reason = SCOPE.owns(target)

    assert reason is not None and why in reason


@pytest.mark.parametrize("target", [
    Target("ec2:instance", "i-3"),
    Target("ec2:instance", "i-4", {"gameday:run": "r2"}),
    Target("ec2:instance", "i-5", {"gameday:run": "r1-x"}),
    Target("ec2:instance", "i-6", {"aws:cloudformation:stack-name": "gd-r1-web-other"}),
    Target("ec2:subnet", "subnet-1", parents=("vpc-2",)),
])
def test_outside_the_blast_radius_is_refused_in_one_line(target: Target) -> None:
    guard = BlastRadiusGuard(lambda: SCOPE)

    with pytest.raises(TargetRefused) as refused:
        guard.check(plan(Target("ec2:security-group", "sg-1"), target))

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"refused: block-az-nacl would touch {target.kind} {target.resource_id}")
    assert "stack gd-r1-web (3 resources)" in message and "gameday:run=r1" in message


def test_refusal_names_the_foreign_run_tag() -> None:
    with pytest.raises(TargetRefused, match=r"\(it has gameday:run=r2\)"):
        BlastRadiusGuard(lambda: SCOPE).check(plan(Target("ec2:instance", "i-4", {"gameday:run": "r2"})))


def test_empty_scope_refuses_everything() -> None:
    with pytest.raises(TargetRefused, match="no stack is deployed or named"):
        BlastRadiusGuard(lambda: Scope()).check(plan(Target("ec2:instance", "i-1", {"gameday:run": ""})))


def test_a_plan_without_targets_is_refused() -> None:
    with pytest.raises(TargetRefused, match="names no target"):
        BlastRadiusGuard(lambda: SCOPE).check(plan())


def test_account_guard() -> None:
    check_account("123456789012", "arn:aws:iam::123456789012:user/x", {"123456789012"})
    with pytest.raises(AccountRefused, match="not an allowed account"):
        check_account("123456789012", "arn", {"111111111111"})
    with pytest.raises(AccountRefused, match="pass --allow-account 123456789012"):
        check_account("123456789012", "arn", set())


def test_accounts_and_regions_are_checked() -> None:
    assert parse_accounts(["111111111111, 222222222222", "111111111111\n"]) == {"111111111111", "222222222222"}
    for bad in ["12345", "1234567890123", "12345678901a", "١٢٣٤٥٦٧٨٩٠١٢", "", "1234 5678 9012"]:
        with pytest.raises(ConfigError, match="12-digit"):
            parse_accounts([bad])
    assert check_region("us-gov-west-1") == "us-gov-west-1"
    for bad in ["us-east", "US-EAST-1", "us-east-1\n", "", "us_east_1"]:
        with pytest.raises(ConfigError, match="not an AWS region"):
            check_region(bad)


def test_config_reads_the_aws_table(tmp_path: Path) -> None:
    path = tmp_path / "gameday.toml"
    path.write_text('[budgets]\n[aws]\nallow_accounts = ["111111111111"]\nregion = "eu-west-1"\n')

    assert load_config(path) == AwsConfig(frozenset({"111111111111"}), "eu-west-1")


@pytest.mark.parametrize(("text", "message"), [
    ("[aws]\nallow_accounts = [123456789012]\n", "write it as a string"),
    ("[aws]\nallow_accounts = \"111111111111\"\n", "must be a list"),
    ("[aws]\nregion = 3\n", "not an AWS region"),
    ("[aws]\nallow = []\n", "unknown key aws.allow"),
    ("aws = 1\n", "[aws] must be a table"),
    ("[aws\n", "gameday.toml"),
])
def test_bad_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gameday.toml"
    path.write_text(text)

    with pytest.raises(ConfigError) as error:
        load_config(path)

    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_named_config_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")
