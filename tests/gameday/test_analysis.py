"""Failover analysis on synthetic timelines: a fake clock writes the samples, nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from gameday.analysis import analyze, infer_fault_at, percentiles
from gameday.clock import FakeClock
from gameday.timeline import Event, Outcome, Sample, Timeline

OK, REFUSED, TIMEOUT, HTTP_503 = Outcome.OK, Outcome.REFUSED, Outcome.TIMEOUT, Outcome.HTTP_5XX
RATE_HZ = 10.0


class Scripted:
    """Writes one probe's samples at RATE_HZ from the fake clock's origin, segment by segment."""

    def __init__(self, timeline: Timeline, clock: FakeClock, probe: str, kind: str = "http") -> None:
        self.timeline, self.clock, self.probe, self.kind = timeline, clock, probe, kind
        self.seq = 0

    def run(self, seconds: float, outcome: Outcome, *, latency: float | None = 0.01,
            answers: Sequence[str] = (), status: int | None = None, served_by: str | None = None) -> None:
        for _ in range(round(seconds * RATE_HZ)):
            mono = self.seq / RATE_HZ
            self.timeline.add_sample(Sample(
                probe=self.probe, kind=self.kind, target="t", seq=self.seq, scheduled_mono=mono,
                sent_mono=mono, sent_at=self.clock.now() + mono, outcome=outcome,
                latency_s=None if outcome is TIMEOUT else latency, status=status,
                answers=tuple(answers), served_by=served_by))
            self.seq += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start_at=1_000.0)


@pytest.fixture
def timeline(clock: FakeClock) -> Timeline:
    return Timeline.begin("test", clock)


def at(clock: FakeClock, seconds: float) -> float:
    return clock.now() + seconds


def test_outage_then_recovery_gives_phases_window_and_failover_time(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(10.5, OK, served_by="i-1")
    http.run(2.5, REFUSED)
    http.run(7.0, OK, served_by="i-2")

    result = analyze(timeline, fault_at=at(clock, 10.0))

    assert result.recovered
    assert result.failover_time_s == pytest.approx(3.0)
    assert result.phase("first_good").since_fault_s == pytest.approx(3.0)
    assert result.phase("stable").since_fault_s == pytest.approx(3.0)
    (window,) = result.outage_windows
    assert (window.start_at, window.end_at) == (pytest.approx(at(clock, 10.5)), pytest.approx(at(clock, 13.0)))
    assert window.duration_s == pytest.approx(2.5) and window.samples == 25
    assert window.outcomes == {"refused": 25}
    assert result.error_count == 25
    assert result.availability == pytest.approx(75 / 100)
    (summary,) = result.probes
    assert summary.served_by == ("i-1", "i-2") and summary.flaps == 0


def test_phase_names_come_in_order(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "http:a").run(5, OK)
    dns = Scripted(timeline, clock, "dns:auth", kind="dns")
    dns.run(2, OK, answers=["10.0.0.1"])
    dns.run(3, OK, answers=["10.0.0.2"])

    names = [p.name for p in analyze(timeline, fault_at=at(clock, 1.0)).phases]

    assert names == ["fault", "detection", "control_plane", "dns_first", "dns_all", "first_good", "stable"]


def test_dns_that_never_changes_adds_no_dns_phase(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "http:a").run(5, OK)
    Scripted(timeline, clock, "dns:auth", kind="dns").run(5, OK, answers=["10.0.0.1"])

    names = [p.name for p in analyze(timeline, fault_at=at(clock, 1.0)).phases]

    assert "dns_first" not in names and "dns_all" not in names


def test_flapping_delays_stable_and_counts_flaps(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(10.0, OK)
    http.run(1.0, HTTP_503, status=503)
    http.run(1.0, OK)  # 11.0 - 12.0: good, but not for the 2 s window
    http.run(0.5, TIMEOUT)
    http.run(5.0, OK)  # stable from 12.5

    result = analyze(timeline, fault_at=at(clock, 10.0), stable_window_s=2.0)

    assert result.phase("first_good").since_fault_s == pytest.approx(1.0)
    assert result.failover_time_s == pytest.approx(2.5)
    assert result.probes[0].flaps == 1
    assert len(result.outage_windows) == 2


def test_never_recovering_leaves_stable_unset_and_the_window_open(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(5.0, OK)
    http.run(5.0, TIMEOUT)

    result = analyze(timeline, fault_at=at(clock, 5.0))

    assert not result.recovered and result.failover_time_s is None
    assert result.phase("stable").at is None and result.phase("first_good").at is None
    (window,) = result.outage_windows
    assert window.open and window.duration_s == pytest.approx(4.9)
    assert result.availability == 0.0


def test_serving_a_while_after_the_fault_is_not_stability(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(13.0, OK)  # the fault at 10 takes 3 s to bite, longer than the stable window
    http.run(2.0, REFUSED)
    http.run(5.0, OK)

    result = analyze(timeline, fault_at=at(clock, 10.0), stable_window_s=2.0)

    assert result.failover_time_s == pytest.approx(5.0)


def test_ground_truth_events_mark_the_phases_first_one_wins(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "http:eip").run(20.0, OK)
    events = [("localcloud.asg.launch", 2.0), ("fault.inject", 10.0), ("localcloud.asg.unhealthy", 11.0),
              ("localcloud.asg.launch", 12.0), ("localcloud.eip.associated", 13.0),
              ("localcloud.instance.booted", 12.5), ("localcloud.eip.routed", 13.2), ("other.thing", 10.1)]
    timeline.add_events(Event(at(clock, t), kind, "localcloud") for kind, t in events)

    result = analyze(timeline, fault_at=at(clock, 10.0))

    timed = {p.name: (p.since_fault_s, p.source) for p in result.phases}
    assert timed["fault"] == (0.0, "event:fault.inject")
    assert timed["detection"] == (pytest.approx(1.0), "event:localcloud.asg.unhealthy")
    assert timed["control_plane"] == (pytest.approx(2.0), "event:localcloud.asg.launch")
    assert timed["booted"][0] == pytest.approx(2.5) and timed["routed"][0] == pytest.approx(3.2)
    assert [p.name for p in result.phases][:5] == ["fault", "detection", "control_plane", "booted", "routed"]


def test_a_health_check_deciding_unhealthy_is_its_own_phase(timeline: Timeline, clock: FakeClock) -> None:
    """The ASG may notice a dead instance before the DNS health check does: both are reported, and only
    the check's decision (not its publication, not a recovery) marks `health_check`."""
    Scripted(timeline, clock, "http:www").run(20.0, OK)
    health = [(8.0, {"healthy": False, "published": False}),  # before the fault: not this failover
              (11.0, {"healthy": True, "published": False}),  # a recovery is no detection
              (14.4, {"healthy": False, "published": False}),
              (15.5, {"healthy": False, "published": True})]
    timeline.add_events(Event(at(clock, t), "localcloud.route53.health", "localcloud", "hc-1", detail)
                        for t, detail in health)
    timeline.add_events([Event(at(clock, 10.0), "fault.inject", "gameday"),
                         Event(at(clock, 16.5), "localcloud.asg.unhealthy", "localcloud")])

    result = analyze(timeline, fault_at=at(clock, 10.0))

    assert result.phase("health_check").since_fault_s == pytest.approx(4.4)
    assert result.phase("health_check").source == "event:localcloud.route53.health:hc-1"
    assert result.phase("detection").since_fault_s == pytest.approx(6.5)
    assert [p.name for p in result.phases][:3] == ["fault", "detection", "health_check"]


def test_without_events_a_health_503_is_the_detection(timeline: Timeline, clock: FakeClock) -> None:
    health = Scripted(timeline, clock, "health:proxy", kind="health")
    health.run(11.3, OK, status=200)
    health.run(2.0, HTTP_503, status=503)
    health.run(5.0, OK, status=200)

    result = analyze(timeline, fault_at=at(clock, 10.0))

    assert result.phase("detection").since_fault_s == pytest.approx(1.3)
    assert result.phase("detection").source == "probe:health:proxy"
    assert result.phase("control_plane").at is None


def test_dns_convergence_per_resolver(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "http:app").run(30.0, OK)
    auth = Scripted(timeline, clock, "dns:auth", kind="dns")
    auth.run(12.0, OK, answers=["10.0.0.1"])
    auth.run(18.0, OK, answers=["10.0.0.2"])
    caching = Scripted(timeline, clock, "dns:caching", kind="dns")
    caching.run(14.0, OK, answers=["10.0.0.1"])
    for _ in range(5):  # two caches behind one address: old and new answers alternate for a while
        caching.run(0.1, OK, answers=["10.0.0.2"])
        caching.run(0.1, OK, answers=["10.0.0.1"])
    caching.run(15.0, OK, answers=["10.0.0.2"])

    result = analyze(timeline, fault_at=at(clock, 10.0))

    convergence = {c.probe: c for c in result.dns}
    assert convergence["dns:auth"].before == ("10.0.0.1",) and convergence["dns:auth"].after == ("10.0.0.2",)
    assert convergence["dns:auth"].first_since_fault_s == pytest.approx(2.0)
    assert convergence["dns:auth"].all_since_fault_s == pytest.approx(2.0)
    assert convergence["dns:caching"].first_since_fault_s == pytest.approx(4.0)
    assert convergence["dns:caching"].all_since_fault_s == pytest.approx(5.0)
    assert result.phase("dns_all", "probe:dns:caching").since_fault_s == pytest.approx(5.0)


def test_dns_that_never_changes_has_no_convergence(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "dns:auth", kind="dns").run(20.0, OK, answers=["10.0.0.1"])

    (convergence,) = analyze(timeline, fault_at=at(clock, 10.0)).dns

    assert not convergence.changed and convergence.first_at is None and convergence.all_at is None


def test_dns_expected_target_given_explicitly(timeline: Timeline, clock: FakeClock) -> None:
    dns = Scripted(timeline, clock, "dns:auth", kind="dns")
    dns.run(12.0, OK, answers=["10.0.0.1"])
    dns.run(8.0, OK, answers=["10.0.0.3"])  # not the expected target: never converges

    (convergence,) = analyze(timeline, fault_at=at(clock, 10.0), dns_target=["10.0.0.2"]).dns

    assert convergence.changed and convergence.first_at is None and convergence.all_at is None


def test_outages_of_several_probes_merge_into_one_window(timeline: Timeline, clock: FakeClock) -> None:
    fresh = Scripted(timeline, clock, "http:fresh")
    fresh.run(10.0, OK)
    fresh.run(2.0, REFUSED)
    fresh.run(8.0, OK)
    pinned = Scripted(timeline, clock, "http:keepalive", kind="http_keepalive")
    pinned.run(11.0, OK)
    pinned.run(3.0, TIMEOUT)
    pinned.run(6.0, OK)

    result = analyze(timeline, fault_at=at(clock, 10.0))

    (window,) = result.outage_windows
    assert window.probes == ("http:fresh", "http:keepalive")
    assert window.since_fault_s == pytest.approx(0.0) and window.duration_s == pytest.approx(4.0)
    assert result.failover_time_s == pytest.approx(4.0)
    assert analyze(timeline, fault_at=at(clock, 10.0), probe="http:fresh").failover_time_s == pytest.approx(2.0)


def test_latency_percentiles_overall_and_inside_the_window(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(10.0, OK, latency=0.010)
    http.run(1.0, OK, latency=0.500)  # slow but served: no outage, so stable starts at the fault
    http.run(9.0, OK, latency=0.010)

    summary = analyze(timeline, fault_at=at(clock, 10.0), stable_window_s=2.0).probes[0]

    assert summary.latency.count == 200 and summary.latency.p50 == 0.010 and summary.latency.p99 == 0.500
    assert summary.latency_in_window.count == 1  # the window closes at stable, i.e. at once


def test_percentiles_are_nearest_rank() -> None:
    result = percentiles(float(v) for v in range(1, 101))
    assert (result.p50, result.p95, result.p99, result.max) == (50.0, 95.0, 99.0, 100.0)
    assert percentiles([]).p50 is None


def test_result_serialises_and_survives_a_timeline_round_trip(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(10.0, OK)
    http.run(1.0, REFUSED)
    http.run(5.0, OK)
    timeline.add_event(Event(at(clock, 10.0), "fault.inject", "gameday", "i-1", {"fault": "terminate"}))
    result = analyze(timeline, fault_at=at(clock, 10.0))

    reread = Timeline.from_dict(json.loads(json.dumps(timeline.to_dict())))

    assert json.loads(json.dumps(result.to_dict()))["failover_time_s"] == pytest.approx(1.0)
    assert analyze(reread, fault_at=at(clock, 10.0)) == result


def test_infer_fault_prefers_the_event_then_the_first_error(timeline: Timeline, clock: FakeClock) -> None:
    http = Scripted(timeline, clock, "http:eip")
    http.run(3.0, OK)
    assert infer_fault_at(timeline) is None
    http.run(1.0, REFUSED)
    assert infer_fault_at(timeline) == (pytest.approx(at(clock, 3.0)), "first error (probe:http:eip)")
    timeline.add_event(Event(at(clock, 2.5), "fault.inject", "gameday"))
    assert infer_fault_at(timeline) == (at(clock, 2.5), "event:fault.inject")


def test_unknown_probe_is_an_error(timeline: Timeline, clock: FakeClock) -> None:
    Scripted(timeline, clock, "http:eip").run(1.0, OK)
    with pytest.raises(ValueError, match="no samples from probe"):
        analyze(timeline, fault_at=at(clock, 0.5), probe="nope")


def test_an_empty_timeline_is_analysed_not_crashed_on(timeline: Timeline, clock: FakeClock) -> None:
    result = analyze(timeline, fault_at=at(clock, 1.0))

    assert not result.recovered and result.outage_windows == () and result.probes == ()
    assert [p.name for p in result.phases] == ["fault", "detection", "control_plane", "first_good", "stable"]


def test_dns_answer_that_leaves_and_returns_is_reported_as_changed(timeline: Timeline, clock: FakeClock) -> None:
    dns = Scripted(timeline, clock, "dns:auth", kind="dns")
    dns.run(10.0, OK, answers=["10.0.0.1", "10.0.0.2"])
    dns.run(3.0, OK, answers=["10.0.0.1", "10.0.0.2"])  # the dead node's address still answered
    dns.run(10.0, OK, answers=["10.0.0.2"])  # left the answers
    dns.run(5.0, OK, answers=["10.0.0.1", "10.0.0.2"])  # its replacement re-claimed the address

    result = analyze(timeline, fault_at=at(clock, 10.0))
    (convergence,) = result.dns

    assert convergence.changed and convergence.returned and convergence.left == ("10.0.0.1",)
    assert convergence.left_since_fault_s == pytest.approx(3.0)
    assert convergence.returned_since_fault_s == pytest.approx(13.0)
    assert result.phase("dns_first") is None  # a round trip, not a move to new answers


def test_weighted_answers_naming_one_address_each_are_not_a_leave(timeline: Timeline, clock: FakeClock) -> None:
    dns = Scripted(timeline, clock, "dns:auth", kind="dns")
    for _ in range(20):
        dns.run(0.5, OK, answers=["10.0.0.1"])
        dns.run(0.5, OK, answers=["10.0.0.2"])

    (convergence,) = analyze(timeline, fault_at=at(clock, 10.0)).dns

    assert not convergence.changed and not convergence.returned
