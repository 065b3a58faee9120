"""Stop conditions: the availability floor and CloudWatch alarms, and the watch loop aborting (and reverting)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gameday.clock import FakeClock, SystemClock
from gameday.errors import ConfigError
from gameday.faults import FaultPlan, RevertAction, RollbackJournal, Target
from gameday.probes import HttpProbe
from gameday.probes.scripted import ScriptedHttpServer
from gameday.scenario import FailoverRun, WatchPolicy, run_failover
from gameday.stopconditions import AlarmState, AvailabilityFloor, StopConditionHit, stop_if_triggered
from gameday.timeline import Outcome, Sample, Timeline
from tests.gameday.scenario_data import OfflineBackend
from tests.integration.test_aws_sandbox import aws_backend, client, moto_server, set_aws_env


def _sample(at: float, good: bool, seq: int) -> Sample:
    return Sample("http", "http", "u", seq, 0.0, 0.0, at, Outcome.OK if good else Outcome.CONNECT_TIMEOUT,
                  0.01 if good else None, 200 if good else None)


def _timeline(clock: FakeClock, pattern: str, step_s: float = 0.1) -> Timeline:
    timeline = Timeline.begin("t", clock)
    for seq, mark in enumerate(pattern):
        timeline.add_sample(_sample(clock.now(), mark == "+", seq))
        clock.advance(step_s)
    return timeline


def test_floor_fires_only_after_the_limit() -> None:
    clock = FakeClock()
    timeline = _timeline(clock, "+" * 20 + "-" * 30)  # 2 s good, then 3 s bad
    floor = AvailabilityFloor("http", 0.5, limit_s=1.0, window_s=1.0)
    start = clock.now() - 3.0

    fired = [(round(t - start, 1), floor.check(timeline, t)) for t in (start + 0.2 * i for i in range(16))]

    first = next(at for at, reason in fired if reason)
    assert 1.4 <= first <= 2.4  # below the floor from ~0.5 s after the outage began, plus the 1 s limit
    reason = next(r for _, r in fired if r)
    assert reason is not None and "floor 50%" in reason and "over the 1 s limit" in reason


def test_floor_resets_when_availability_recovers() -> None:
    clock = FakeClock()
    timeline = _timeline(clock, "-" * 5 + "+" * 20)
    floor = AvailabilityFloor("http", 0.9, limit_s=0.4, window_s=0.5)
    start = clock.now() - 2.5

    assert floor.check(timeline, start + 0.4) is None  # below, but not for long
    assert floor.check(timeline, start + 2.0) is None  # recovered
    assert floor.check(timeline, start + 2.45) is None


@pytest.mark.parametrize("kwargs", [{"floor": 0.0}, {"floor": 1.5}, {"floor": 0.5, "limit_s": -1}])
def test_floor_settings_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        AvailabilityFloor("http", **{"limit_s": 1.0, **kwargs})


def test_stop_if_triggered_notes_the_event_and_raises() -> None:
    clock = FakeClock()
    timeline = _timeline(clock, "-" * 10)
    floor = AvailabilityFloor("http", 0.5, limit_s=0.0)
    stop_if_triggered([floor], timeline, clock)  # first time below: the limit starts
    clock.advance(0.1)

    with pytest.raises(StopConditionHit, match="aborted by stop condition: availability of http was 0%"):
        stop_if_triggered([floor], timeline, clock, subject="i-1")

    (event,) = timeline.events_of("gameday.stop_condition")
    assert event.subject == "i-1" and "floor" in event.detail["reason"]


def test_alarm_in_alarm_stops_and_a_missing_alarm_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)
    with moto_server() as url, aws_backend(url, "sa-east-1", "alarms") as backend:
        cloudwatch = client(url, "sa-east-1", "cloudwatch")
        cloudwatch.put_metric_alarm(AlarmName="errors", MetricName="5xx", Namespace="gd", Statistic="Sum",
                                    Period=60, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanThreshold")
        alarm = AlarmState(backend, "errors", interval_s=0.0)
        alarm.validate()
        quiet = alarm.check(Timeline.begin("t"), time.time())
        cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="5xx above 1")
        loud = alarm.check(Timeline.begin("t"), time.time())
        with pytest.raises(ConfigError, match="alarm 'nope' not found in sa-east-1"):
            AlarmState(backend, "nope").validate()

    assert quiet is None
    assert loud == "CloudWatch alarm errors is in ALARM: 5xx above 1"


class _ServerDown:
    """A fault on a scripted server: it starts answering 503 (revert kind `none`: the test restores it)."""

    name = "serve-503"

    def __init__(self, server: ScriptedHttpServer) -> None:
        self.server = server

    @property
    def target(self) -> str:
        return self.server.url

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, (Target("http:server", self.server.url),), "answer 503",
                         RevertAction("none", {}, "nothing"))

    def inject(self) -> None:
        self.server.switch("503")




def test_watch_loop_aborts_reverts_and_fails_the_scenario(tmp_path: Path) -> None:
    clock = SystemClock()
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    with ScriptedHttpServer("ok") as server:
        run = FailoverRun(
            backend=OfflineBackend(), stack_id="s", scenario="abort", fault=_ServerDown(server),
            probes=[HttpProbe("http", server.url, rate_hz=20, timeout_s=0.3)], primary_probe="http", budget_s=5,
            prediction=None, journal=journal, timeline=Timeline.begin("t", clock), clock=clock,
            policy=WatchPolicy(steady_consecutive=5, steady_timeout_s=20, watch_timeout_s=30, tail_s=0),
            stop_conditions=[AvailabilityFloor("http", 0.5, limit_s=0.5, window_s=0.5)])
        started = time.monotonic()
        result = run_failover(run)
        took = time.monotonic() - started

    assert result.verdict == "failed" and result.message.startswith("aborted by stop condition: availability")
    assert took < 25  # aborted, not watched to the 30 s timeout
    kinds = [e.kind for e in result.timeline.events]
    assert kinds.index("gameday.stop_condition") < kinds.index("fault.revert")
    assert [e.state for e in journal.entries()] == ["reverted"]
