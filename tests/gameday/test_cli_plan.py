import subprocess
import sys

import pytest

from gameday.kits import load_kits
from tests.integration.test_aws_sandbox import ROOT, child_env


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=60)


def test_plan_lists_every_scenario_with_targets_reverts_and_fis() -> None:
    done = gameday("plan")

    assert done.returncode == 0, done.stderr
    for scenario in load_kits().scenarios():
        assert scenario.scenario_id in done.stdout
        for spec in scenario.faults:
            assert f"fault {spec.fault}" in done.stdout
            assert f"targets  {spec.targets}" in done.stdout
            assert f"revert   {spec.revert}" in done.stdout
    assert "FIS      aws:ec2:terminate-instances" in done.stdout
    assert "stop conditions: availability of http:eip below 50%" in done.stdout


def test_plan_by_stack_id_selects_its_scenarios() -> None:
    done = gameday("plan", "eip-self-healing")

    assert done.returncode == 0
    assert "eip-self-healing/terminate-instance" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("plan", "nope"), "unknown scenario 'nope'"),
    (("plan", "--local", "--existing-stack", "x"), "--local and --existing-stack exclude each other"),
    (("plan", "--existing-stack", "x"), "--existing-stack is one stack's parts; these scenarios need"),
    (("plan", "eip-self-healing", "--existing-stack", "x", "--region", "mars-1"), "not an AWS region"),
    (("plan", "eip-self-healing", "--existing-stack", "bad name!", "--region", "eu-west-1"), "not a stack name"),
    (("plan", "eip-self-healing", "--existing-stack", "x", "--region", "eu-west-1", "--allow-account", "12"),
     "12-digit"),
    (("plan", "eip-self-healing", "--existing-stack", "x", "--region", "eu-west-1", "--endpoint-url", "ftp://x"),
     "not an http(s) URL"),
])
def test_bad_input_is_one_line_exit_2_before_any_call(args: tuple[str, ...], message: str) -> None:
    done = gameday(*args)

    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert done.stdout == ""


@pytest.mark.integration
def test_plan_local_resolves_targets_in_a_throwaway_localcloud() -> None:
    done = gameday("plan", "--local", "eip-self-healing")

    assert done.returncode == 0, done.stderr
    assert "    target   ec2:instance i-" in done.stdout and "target   autoscaling:group gd-plan-" in done.stdout
    targets = done.stdout.count("    target   ")  # every scenario's targets, each inside the blast radius
    assert targets >= 2 and done.stdout.count("inside the blast radius: ") == targets and "REFUSED" not in done.stdout
    assert "    revert   group gd-plan-" in done.stdout and "[asg.restore-capacity]" in done.stdout
