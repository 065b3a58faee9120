"""The eip-self-healing game day end to end on localcloud, and the mutation that must make it fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fixtures.scenarios import Play
from gameday import stacks
from gameday.faults.terminate_instance import TerminateInstance
from gameday.kits import load_kits
from gameday.kits.eip_self_healing.scenarios import probes
from gameday.scenario import ScenarioResult, Verdict, WatchPolicy
from gameday.session import GameDay
from gameday.stacks import STACKS_DIR
from gameday.timeline import Timeline

pytestmark = pytest.mark.integration

STACK = "eip-self-healing"
STEADY_TIMEOUT_S = 60.0


def test_terminate_instance_heals_within_budget(play_scenario: Play) -> None:
    (result,) = play_scenario(load_kits().scenario(f"{STACK}/terminate-instance"))

    assert result.passed, result.message
    assert result.failover is not None and result.prediction is not None
    served_by = {s.served_by for s in result.timeline.samples_of("http:eip") if s.good}
    assert len(served_by) == 2  # the original instance, then its replacement
    kinds = {e.kind for e in result.timeline.events}
    assert {"fault.inject", "fault.revert", "localcloud.asg.launch", "localcloud.userdata.exit"} <= kinds


def _mutated_run(game_day: GameDay, tmp_path: Path, pattern: str, replacement: str, name: str) -> ScenarioResult:
    """The reference template with one mutation, deployed and played with its cause diagnosed; deleted after."""
    template = (STACKS_DIR / STACK / "template.yaml").read_text()
    broken, count = re.subn(pattern, replacement, template)
    assert count == 1
    mutated = tmp_path / "template.yaml"
    mutated.write_text(broken)
    stack = stacks.deploy(game_day.backend, stacks.StackSpec(STACK, {"ZoneName": f"{name}.gameday.test"}, mutated),
                          name)
    game_day.in_play = (stack,)
    try:
        return game_day.run(stack_id=STACK, scenario=f"terminate-instance-{name}",
                            fault=TerminateInstance(game_day.backend, stack.output("AutoScalingGroupName")),
                            probes=probes(stack, []), primary_probe="http:eip", budget_key="terminate-instance",
                            policy=WatchPolicy(steady_timeout_s=STEADY_TIMEOUT_S, watch_timeout_s=20), record=False)
    finally:
        game_day.in_play = ()
        stacks.delete(game_day.backend, stack)


def _waited_s(result: ScenarioResult) -> float:
    samples = result.timeline.samples_of("http:eip")
    return samples[-1].sent_at - samples[0].sent_at


def test_user_data_without_association_fails_at_once_naming_the_address(game_day: GameDay, tmp_path: Path) -> None:
    result = _mutated_run(game_day, tmp_path, r"aws ec2 associate-address[^\n]*\\\n[^\n]*\n", "true\n",
                          "no-associate")

    assert result.verdict is Verdict.FAILED
    assert result.message.startswith("steady state cannot be reached: Elastic IP "), result.message
    assert "is associated with nothing, and every instance's user data has ended" in result.message
    assert re.search(r"i-\w+ exited 0 after", result.message), result.message
    assert any(s.outcome.value == "connect_timeout" for s in result.timeline.samples_of("http:eip"))
    assert _waited_s(result) < STEADY_TIMEOUT_S / 2  # ground truth ended the wait, not the timeout


def test_failing_user_data_names_the_instance_its_exit_status_and_error(game_day: GameDay, tmp_path: Path) -> None:
    result = _mutated_run(game_day, tmp_path, r"- AllocationId: !GetAtt ElasticIp.AllocationId",
                          "- AllocationId: eipalloc-0123456789abcdef0", "wrong-allocation")

    assert result.verdict is Verdict.FAILED
    # The role may associate only the stack's own address: IAM refuses the call before EC2 looks the id up.
    assert re.match(r"steady state cannot be reached: i-\w+ \(group [^)]+\): its user data exited \d+ after "
                    r"[\d.]+ s; it printed: An error occurred \(UnauthorizedOperation\) when calling the "
                    r"AssociateAddress operation: You are not authorized to perform this operation\. User: "
                    r"arn:aws:sts::\d+:assumed-role/[\w-]+/i-\w+ is not authorized to perform: ec2:AssociateAddress "
                    r"on resource: arn:aws:ec2:[\w-]+:\d+:elastic-ip/eipalloc-0123456789abcdef0 because no "
                    r"identity-based policy allows the ec2:AssociateAddress action;", result.message), result.message
    assert _waited_s(result) < STEADY_TIMEOUT_S / 2


def test_report_files_name_backend_profile_and_budget(game_day: GameDay, tmp_path: Path) -> None:
    from gameday.reports import write_report

    if not game_day.report.scenarios:
        pytest.skip("runs after the scenarios above")
    folder = write_report(game_day.report, tmp_path)

    summary = (folder / "summary.md").read_text()
    assert "localcloud" in summary and "fast" in summary and "Budget" in summary
    data = json.loads((folder / "report.json").read_text())
    assert data["backend"] == "localcloud" and data["profile"] == "fast"
    pointer = data["scenarios"][0]["timeline"]  # report.json points to the raw timeline beside it
    assert pointer["sample_count"] > 0 and pointer["file"].startswith("timelines/")
    assert Timeline.read(folder / pointer["file"]).sample_count == pointer["sample_count"]
    assert (tmp_path / "history.jsonl").read_text().count("\n") == 1
