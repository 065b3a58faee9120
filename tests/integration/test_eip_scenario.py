"""The eip-self-healing game day end to end on localcloud, and the mutation that must make it fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import DeployStack
from gameday.faults.terminate_instance import TerminateInstance
from gameday.scenario import WatchPolicy
from gameday.stacks import STACKS_DIR
from scenarios.test_eip_self_healing import eip_probes

pytestmark = pytest.mark.integration

STACK = "eip-self-healing"


def test_terminate_instance_heals_within_budget(deploy_stack: DeployStack, failover: Failover) -> None:
    stack = deploy_stack(STACK, ZoneName="heal.gameday.test")

    result = failover.run(stack_id=STACK, scenario="terminate-instance",
                          fault=TerminateInstance(failover.backend, stack.output("AutoScalingGroupName")),
                          probes=eip_probes(stack, failover.backend.resolvers()), primary_probe="http:eip")

    assert result.passed, result.message
    assert result.failover is not None and result.prediction is not None
    served_by = {s.served_by for s in result.timeline.samples_of("http:eip") if s.good}
    assert len(served_by) == 2  # the original instance, then its replacement
    kinds = {e.kind for e in result.timeline.events}
    assert {"fault.inject", "fault.revert", "localcloud.asg.launch", "localcloud.userdata.exit"} <= kinds


def test_user_data_without_association_fails_the_scenario(deploy_stack: DeployStack, failover: Failover,
                                                          tmp_path: Path) -> None:
    template = (STACKS_DIR / STACK / "template.yaml").read_text()
    broken, count = re.subn(r"aws ec2 associate-address[^\n]*\\\n[^\n]*\n", "true\n", template)
    assert count == 1
    mutated = tmp_path / "template.yaml"
    mutated.write_text(broken)
    stack = deploy_stack(STACK, template=mutated, ZoneName="broken.gameday.test")

    result = failover.run(stack_id=STACK, scenario="terminate-instance-broken-user-data",
                          fault=TerminateInstance(failover.backend, stack.output("AutoScalingGroupName")),
                          probes=eip_probes(stack, []), primary_probe="http:eip",
                          policy=WatchPolicy(steady_timeout_s=20, watch_timeout_s=20))

    assert result.verdict == "failed"
    assert "steady state never reached" in result.message
    assert any(s.outcome.value == "connect_timeout" for s in result.timeline.samples_of("http:eip"))


def test_report_files_name_backend_profile_and_budget(failover: Failover, tmp_path: Path) -> None:
    from gameday.reports import write_report

    if not failover.report.scenarios:
        pytest.skip("runs after the scenarios above")
    folder = write_report(failover.report, tmp_path)

    summary = (folder / "summary.md").read_text()
    assert "localcloud" in summary and "fast" in summary and "Budget" in summary
    data = json.loads((folder / "report.json").read_text())
    assert data["backend"] == "localcloud" and data["profile"] == "fast"
    assert data["scenarios"][0]["timeline"]["samples"]
    assert (tmp_path / "history.jsonl").read_text().count("\n") == 1
