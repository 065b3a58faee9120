"""The RTO rule in a whole scenario against the scripted target: a recovery that relapses fails, and the
verdict message and summary.md say when; a recovery that holds passes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from gameday.clock import SystemClock
from gameday.faults import FaultPlan, RevertAction, RollbackJournal, Target
from gameday.probes import HttpProbe
from gameday.probes.scripted import ScriptedHttpServer
from gameday.reports.markdown import render_summary
from gameday.scenario import FailoverRun, ScenarioResult, WatchPolicy, run_failover
from gameday.timeline import Timeline
from tests.gameday.scenario_data import OfflineBackend


class _Outages:
    """A fault on a scripted server: from the inject on, its answers follow `steps` (seconds after the inject)."""

    name = "scripted-outages"

    def __init__(self, server: ScriptedHttpServer, steps: Sequence[tuple[float, str]]) -> None:
        self.server = server
        self.steps = steps

    @property
    def target(self) -> str:
        return self.server.url

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, (Target("http:server", self.server.url),), "answer as scripted",
                         RevertAction("none", {}, "nothing"))

    def inject(self) -> None:
        now = time.time()
        for after, mode in self.steps:
            self.server.switch(mode, at=now + after)




def _run(tmp_path: Path, steps: Sequence[tuple[float, str]], policy: WatchPolicy) -> ScenarioResult:
    clock = SystemClock()
    with ScriptedHttpServer("ok") as server:
        run = FailoverRun(
            backend=OfflineBackend(), stack_id="scripted", scenario="relapse", fault=_Outages(server, steps),
            probes=[HttpProbe("http", server.url, rate_hz=20, timeout_s=0.3)], primary_probe="http", budget_s=10,
            prediction=None, journal=RollbackJournal(tmp_path / "rollback.jsonl"),
            timeline=Timeline.begin("t", clock), clock=clock, policy=policy, profile="fast")
        return run_failover(run)


def _summary(result: ScenarioResult) -> str:
    return render_summary({"run_id": "r", "passed": result.passed, "backend": "localcloud", "profile": "fast",
                           "scenarios": [result.to_dict(with_timeline=False)]})


def test_a_recovery_that_relapses_fails_and_says_when(tmp_path: Path) -> None:
    # down 0.5 s, good 5.5 s (the target is reached), down again from +6 s for 1 s, then good
    policy = WatchPolicy(steady_consecutive=5, steady_timeout_s=20, stable_window_s=1.0, hold_s=6.5, tail_s=0)
    result = _run(tmp_path, [(0.0, "503"), (0.5, "ok"), (6.0, "503"), (7.0, "ok")], policy)

    assert result.verdict == "failed"
    assert result.failover_time_s is not None and result.failover_time_s < 1.5  # the failover itself was fast
    assert result.rto is not None and result.rto.relapse_s is not None
    assert 5.8 < result.rto.relapse_s < 6.5
    assert f"relapsed at +{result.rto.relapse_s:.2f} s after the fault" in result.message
    summary = _summary(result)
    assert f"relapsed at +{result.rto.relapse_s:.2f} s" in summary
    assert "2 outage windows" in summary and "each is listed in report.json" in summary
    assert len(result.to_dict()["failover"]["outage_windows"]) == 2  # the full list stays in report.json


def test_a_recovery_that_holds_passes_and_says_so(tmp_path: Path) -> None:
    policy = WatchPolicy(steady_consecutive=5, steady_timeout_s=20, stable_window_s=1.0, hold_s=1.0, tail_s=0)
    result = _run(tmp_path, [(0.0, "503"), (0.5, "ok")], policy)

    assert result.verdict == "passed", result.message
    assert result.rto is not None and result.rto.holds and result.rto.relapse_s is None
    assert "RTO 10.0 s held" in result.message
    summary = _summary(result)
    assert "One outage window" in summary
    assert "Client profiles: omitted (address)." in summary  # the URL names an address: no DNS to differ on
