"""The per-request penalty of an origin failover, measured from a timeline, and the judge built on it."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.kits.blocks.origin_failover import measure
from gameday.timeline import Event, Outcome, Sample, Timeline

PROBE = "http:cdn-miss"
FAULT_AT = 1_010.0


def sample(seq: int, at: float, latency_s: float | None, served_by: str, outcome: Outcome = Outcome.OK) -> Sample:
    return Sample(PROBE, "http", "http://cdn/index.html", seq, at, at, at, outcome, latency_s,
                  status=200 if outcome is Outcome.OK else None, served_by=served_by)


def timeline(during: Sequence[tuple[float | None, str, Outcome]]) -> Timeline:
    found = Timeline("run", 1_000.0, 0.0)
    found.add_samples(sample(i, 1_000.0 + i, 0.010, "primary-s3") for i in range(10))
    found.add_samples(sample(10 + i, FAULT_AT + i, latency, by, outcome)
                      for i, (latency, by, outcome) in enumerate(during))
    found.add_event(Event(FAULT_AT + len(during) + 1.0, "fault.revert", "gameday"))
    return found


def test_the_penalty_is_the_latency_over_the_baseline_and_names_who_served() -> None:
    penalty = measure(timeline([(6.010, "replica-s3", Outcome.OK)] * 8), PROBE, FAULT_AT, settle_s=0.5)

    assert (penalty.requests, penalty.baseline_s, penalty.p50_s, penalty.errors) == (8, 0.01, 6.0, 0)
    assert penalty.served_by == {"replica-s3": 8}


def test_requests_too_close_to_the_revert_do_not_count_and_errors_are_counted() -> None:
    during = [(6.010, "replica-s3", Outcome.OK)] * 4 + [(None, "", Outcome.TIMEOUT)] * 2
    penalty = measure(timeline(during), PROBE, FAULT_AT, settle_s=2.5)  # the revert is at +7 s: up to +4.5 s

    assert (penalty.requests, penalty.errors) == (5, 1)
    assert penalty.outcomes == {"ok:200": 4, "timeout": 1}
