"""A scenario under `--load steady`: the load's per-second rows run through the failover, with errors in
the outage window and none in steady state, on the same timeline (and in the same report) as the probes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from gameday.faults.terminate_instance import TerminateInstance
from gameday.kits import DeployContext
from gameday.kits.eip_self_healing import KIT
from gameday.kits.eip_self_healing.scenarios import probes
from gameday.load import LoadController, LoadSettings, load_per_second, load_report
from gameday.load.procs import group_members
from gameday.session import GameDay

pytestmark = pytest.mark.integration

STACK = "eip-self-healing"


def wait_serving(url: str, timeout_s: float = 60.0) -> None:
    """Load starts on a serving stack: errors before the fault would be the deploy, not the failover."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never served")


def test_terminate_instance_under_steady_load(game_day: GameDay, tmp_path: Path) -> None:
    ctx = DeployContext(game_day.backend, game_day.profile, "load")
    deployment = KIT.deploy(ctx)
    try:
        stack = deployment.main
        url = stack.output("ServiceUrl")
        wait_serving(url)
        timeline = game_day.new_timeline(STACK, "terminate-instance-under-load")
        load = LoadController(LoadSettings("steady", users=4, rate=40.0))  # what `--load steady` hands a scenario

        with load.running(url, tmp_path, timeline) as run:
            result = game_day.run(stack_id=STACK, scenario="terminate-instance-under-load",
                                  fault=TerminateInstance(game_day.backend, stack.output("AutoScalingGroupName")),
                                  probes=probes(stack, []), primary_probe="http:eip", timeline=timeline,
                                  budget_key="terminate-instance")
    finally:
        KIT.delete(ctx, deployment)

    assert run is not None and group_members(run.pgid) == []
    assert result.passed, result.message
    assert result.failover is not None and result.fault_at is not None
    (outage, *_) = result.failover.outage_windows
    assert outage.end_at is not None
    rows = load_per_second(result.timeline)
    steady = [r for r in rows if r.at + 1 <= result.fault_at]
    inside = [r for r in rows if outage.start_at <= r.at and r.at + 1 <= outage.end_at]
    assert steady and all(r.requests > 0 and r.errors == 0 for r in steady)
    assert inside and sum(r.errors for r in inside) > 0
    assert len({name for r in rows for name, _ in r.served_by}) == 2  # old instance, then its replacement

    section = load_report(result.timeline, window=(outage.start_at, outage.end_at))
    assert section is not None and section["vs_probes"]["load"]["errors_in_window"] > 0
    report = json.loads(json.dumps(result.to_dict()))  # what report.json holds for this scenario
    assert any(s["kind"] == "load" for s in report["timeline"]["samples"])
