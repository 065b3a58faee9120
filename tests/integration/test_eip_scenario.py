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
from gameday.scenario import Verdict, WatchPolicy
from gameday.session import GameDay
from gameday.stacks import STACKS_DIR

pytestmark = pytest.mark.integration

STACK = "eip-self-healing"


def test_terminate_instance_heals_within_budget(play_scenario: Play) -> None:
    (result,) = play_scenario(load_kits().scenario(f"{STACK}/terminate-instance"))

    assert result.passed, result.message
    assert result.failover is not None and result.prediction is not None
    served_by = {s.served_by for s in result.timeline.samples_of("http:eip") if s.good}
    assert len(served_by) == 2  # the original instance, then its replacement
    kinds = {e.kind for e in result.timeline.events}
    assert {"fault.inject", "fault.revert", "localcloud.asg.launch", "localcloud.userdata.exit"} <= kinds


def test_user_data_without_association_fails_the_scenario(game_day: GameDay, tmp_path: Path) -> None:
    template = (STACKS_DIR / STACK / "template.yaml").read_text()
    broken, count = re.subn(r"aws ec2 associate-address[^\n]*\\\n[^\n]*\n", "true\n", template)
    assert count == 1
    mutated = tmp_path / "template.yaml"
    mutated.write_text(broken)
    stack = stacks.deploy(game_day.backend, stacks.StackSpec(STACK, {"ZoneName": "broken.gameday.test"}, mutated),
                          "broken")
    try:
        result = game_day.run(stack_id=STACK, scenario="terminate-instance-broken-user-data",
                              fault=TerminateInstance(game_day.backend, stack.output("AutoScalingGroupName")),
                              probes=probes(stack, []), primary_probe="http:eip", budget_key="terminate-instance",
                              policy=WatchPolicy(steady_timeout_s=20, watch_timeout_s=20))
    finally:
        stacks.delete(game_day.backend, stack)

    assert result.verdict is Verdict.FAILED
    assert "steady state never reached" in result.message
    assert any(s.outcome.value == "connect_timeout" for s in result.timeline.samples_of("http:eip"))


def test_report_files_name_backend_profile_and_budget(game_day: GameDay, tmp_path: Path) -> None:
    from gameday.reports import write_report

    if not game_day.report.scenarios:
        pytest.skip("runs after the scenarios above")
    folder = write_report(game_day.report, tmp_path)

    summary = (folder / "summary.md").read_text()
    assert "localcloud" in summary and "fast" in summary and "Budget" in summary
    data = json.loads((folder / "report.json").read_text())
    assert data["backend"] == "localcloud" and data["profile"] == "fast"
    assert data["scenarios"][0]["timeline"]["samples"]
    assert (tmp_path / "history.jsonl").read_text().count("\n") == 1
