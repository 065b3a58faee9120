"""The generic blocks a team's kit is built from: DNS answer judges over synthetic timelines, the
health-checked steady state's reading (never steady on unprobed checks or fail-open), and the predictors
that read any template by resource type."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from gameday.clock import FakeClock
from gameday.kits.blocks.dns_answers import address_move, judge_back, judge_leave
from gameday.kits.blocks.health_dns import CheckReading, HealthDnsReading, Record, check_reading, expected_answers
from gameday.kits.blocks.stack_timing import group_settings, health_checks, health_timing, leave_phases, record_ttls
from gameday.stacks import stack_config
from gameday.timeline import Outcome, Sample, Timeline
from localcloud import profiles

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "multivalue-pair" / "template.yaml"
RATE_HZ = 10.0
DEAD, LIVE = "10.0.0.1", "10.0.0.2"


def dns_timeline(segments: Sequence[tuple[float, tuple[str, ...]]]) -> tuple[Timeline, float]:
    """A DNS probe's answers, segment by segment from t=0; the fault at 10 s."""
    clock = FakeClock(start_at=1_000.0)
    timeline = Timeline.begin("test", clock)
    seq, now = 0, 0.0
    for seconds, answers in segments:
        for _ in range(round(seconds * RATE_HZ)):
            timeline.add_sample(Sample(probe="dns:auth", kind="dns", target="t", seq=seq, scheduled_mono=now,
                                       sent_mono=now, sent_at=1_000.0 + now, outcome=Outcome.OK, latency_s=0.01,
                                       answers=answers))
            seq, now = seq + 1, now + 1 / RATE_HZ
    return timeline, 1_010.0


def test_an_address_that_leaves_and_comes_back_is_timed_both_ways() -> None:
    timeline, fault_at = dns_timeline([(12.0, (DEAD, LIVE)), (10.0, (LIVE,)), (8.0, (DEAD, LIVE))])

    move = address_move(timeline, "dns:auth", [DEAD], fault_at)

    assert move.left_s == pytest.approx(2.0) and move.back_s == pytest.approx(12.0) and move.stayed
    assert judge_leave(move, 15.0).passed and not judge_leave(move, 1.5).passed
    assert judge_back(move, 35.0).passed and not judge_back(move, 10.0).passed


def test_an_address_that_never_leaves_fails_both_judges() -> None:
    timeline, fault_at = dns_timeline([(30.0, (DEAD, LIVE))])

    move = address_move(timeline, "dns:auth", [DEAD], fault_at)

    assert not move.left and not judge_leave(move, 15.0).passed
    assert "cannot come back" in judge_back(move, 35.0).message


def test_an_address_that_comes_back_and_leaves_again_did_not_come_back() -> None:
    timeline, fault_at = dns_timeline([(12.0, (DEAD, LIVE)), (5.0, (LIVE,)), (2.0, (DEAD, LIVE)), (8.0, (LIVE,))])

    verdict = judge_back(address_move(timeline, "dns:auth", [DEAD], fault_at), 35.0)

    assert not verdict.passed and "left again" in verdict.message


def test_a_short_miss_is_not_a_leave() -> None:
    timeline, fault_at = dns_timeline([(12.0, (DEAD, LIVE)), (1.0, (LIVE,)), (10.0, (DEAD, LIVE))])

    assert not address_move(timeline, "dns:auth", [DEAD], fault_at).left


MULTIVALUE = (Record("multivalue", (DEAD,), "hc-1"), Record("multivalue", (LIVE,), "hc-2"))


def reading(checks: Sequence[CheckReading], answered: set[str]) -> HealthDnsReading:
    return HealthDnsReading("www.example.test", MULTIVALUE, tuple(checks), frozenset(answered))


def healthy(hc: str) -> CheckReading:
    return CheckReading(hc, 15, 1.0, None)


def test_all_probed_healthy_and_answered_is_steady() -> None:
    assert reading([healthy("hc-1"), healthy("hc-2")], {DEAD, LIVE}).why_not_steady() is None


def test_a_check_nobody_probed_yet_is_not_steady() -> None:
    why = reading([CheckReading("hc-1", 0, 0.0, None), healthy("hc-2")], {DEAD, LIVE}).why_not_steady()

    assert why is not None and "hc-1" in why and "not probed yet" in why


def test_failing_open_is_not_steady() -> None:
    down = [CheckReading("hc-1", 15, 0.0, False), CheckReading("hc-2", 15, 0.0, False)]

    why = reading(down, {DEAD, LIVE}).why_not_steady()

    assert why is not None and "unhealthy" in why and "failing open" in why


def test_answers_must_be_exactly_the_healthy_addresses() -> None:
    why = reading([CheckReading("hc-1", 15, 0.0, False), healthy("hc-2")], {DEAD, LIVE}).why_not_steady()

    assert why is not None and "unhealthy" in why
    assert expected_answers(MULTIVALUE, {"hc-2"}) == {LIVE}
    assert expected_answers(MULTIVALUE, set()) == {DEAD, LIVE}  # fail-open


def test_failover_and_weighted_choices() -> None:
    failover = (Record("failover", (DEAD,), "hc-1", failover="PRIMARY"),
                Record("failover", (LIVE,), "hc-2", failover="SECONDARY"))
    weighted = (Record("weighted", (DEAD,), "hc-1", weight=1), Record("weighted", (LIVE,), "hc-2", weight=0))

    assert expected_answers(failover, {"hc-1", "hc-2"}) == {DEAD}
    assert expected_answers(failover, {"hc-2"}) == {LIVE}
    assert expected_answers(weighted, {"hc-1", "hc-2"}) == {DEAD}
    assert expected_answers(weighted, {"hc-2"}) == {LIVE}  # weight 0 only when every weighted one is down


class FakeRoute53:
    def __init__(self, observations: list[dict[str, object]]) -> None:
        self.observations = observations

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, object]:  # noqa: N803 - boto's name
        return {"HealthCheckObservations": self.observations}


def test_a_single_canned_success_is_no_probe() -> None:
    canned = [{"Region": "us-east-1", "IPAddress": "127.0.13.37",
               "StatusReport": {"Status": "Success: HTTP Status Code: 200. OK", "CheckedTime": 2_000.0}}]

    check = check_reading(FakeRoute53(canned), "hc-1", 1_000.0, {})

    assert not check.probed and not check.healthy


def test_observations_older_than_the_check_do_not_count() -> None:
    stale = [{"Region": f"r{i}", "IPAddress": f"127.0.53.{i}",
              "StatusReport": {"Status": "Success: HTTP Status Code 200, OK", "CheckedTime": 900.0}} for i in range(5)]

    assert check_reading(FakeRoute53(stale), "hc-1", 1_000.0, {}).observations == 0
    assert check_reading(FakeRoute53(stale), "hc-1", 800.0, {}).healthy
    assert not check_reading(FakeRoute53(stale), "hc-1", 800.0, {"hc-1": False}).healthy  # DNS says unhealthy


def test_predictors_read_any_template_by_resource_type() -> None:
    config = stack_config("multivalue-pair", None, EXAMPLE)
    fast = profiles.load("fast")

    assert {c.logical_id for c in health_checks(config)} == {"NodeHealthCheck1", "NodeHealthCheck2"}
    assert all(c.request_interval_s == 10 and c.failure_threshold == 3 for c in health_checks(config))
    assert set(record_ttls(config).values()) == {60.0}
    assert {(g.health_check_type, g.grace_period_s) for g in group_settings(config)} == {("EC2", 0.0)}
    timing = health_timing(fast, config)
    assert timing.interval_s == pytest.approx(2.0) and timing.leave_s(0.8) == pytest.approx(8.4)
    assert sum(p.mean_s for p in leave_phases(fast, config)) == pytest.approx(9.5)
