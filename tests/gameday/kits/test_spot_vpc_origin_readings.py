"""The spot-vpc-origin kit's readings: who the origin record named over time, the last-writer-wins window, time spent
naming an instance that was gone, and what CloudFront's clients saw (synthetic timelines, known answers)."""

from __future__ import annotations

from typing import Any, cast

from gameday.analysis import analyze
from gameday.kits.spot_vpc_origin.deploy import VariantStacks
from gameday.kits.spot_vpc_origin.readings import read_thrash, record_spans
from gameday.timeline import Event, Outcome, Sample, Timeline

T0 = 1_000.0
OLD, NEW = "i-old", "i-new"
ADDRESSES = {OLD: "::ffff:127.9.0.1", NEW: "::ffff:127.9.0.2"}
STACK = VariantStacks("user-data", cast(Any, None), cast(Any, None), "127.0.0.1", ("127.0.0.1", 53), OLD,
                      ADDRESSES[OLD])


def dns(at: float, *names: str, outcome: Outcome = Outcome.OK, seq: int = 0) -> Sample:
    return Sample(STACK.dns_probe, "dns", "origin/AAAA", seq, at, at, T0 + at, outcome, 0.001,
                  answers=tuple(sorted(ADDRESSES[n] for n in names)))


def cdn(at: float, served_by: str | None, seq: int = 0) -> Sample:
    outcome = Outcome.OK if served_by else Outcome.FALLBACK
    return Sample(STACK.cdn_probe, "http", "http://edge/", seq, at, at, T0 + at, outcome, 0.01, status=200,
                  served_by=served_by)


def timeline(dns_answers: list[tuple[float, tuple[str, ...]]], cdn_served: list[tuple[float, str | None]],
             gone: dict[str, float]) -> Timeline:
    view = Timeline("run", T0, 0.0)
    view.add_samples(dns(at, *names, seq=i) for i, (at, names) in enumerate(dns_answers))
    view.add_samples(cdn(at, who, seq=i) for i, (at, who) in enumerate(cdn_served))
    view.add_events(Event(T0 + at, "localcloud.instance.terminated", "localcloud", instance)
                    for instance, at in gone.items())
    return view


def every(step: float, start: float, end: float) -> list[float]:
    return [round(start + i * step, 3) for i in range(int((end - start) / step) + 1)]


def test_the_record_lane_counts_the_time_it_named_an_instance_that_was_gone() -> None:
    answers = [(t, (OLD,)) for t in every(0.5, 0.0, 9.5)] + [(t, (NEW,)) for t in every(0.5, 10.0, 15.0)]
    view = timeline(answers, [], {OLD: 3.0})

    spans = record_spans(view, STACK, T0, ADDRESSES, {OLD: T0 + 3.0})

    assert [(s.start_s, s.end_s, s.names) for s in spans] == [(0.0, 10.0, (OLD,)), (10.0, 15.0, (NEW,))]
    assert spans[0].stale_s == 7.0 and spans[1].stale_s == 0.0


def test_an_unknown_address_and_no_record_are_spans_of_their_own() -> None:
    view = Timeline("run", T0, 0.0)
    view.add_samples([dns(0.0, OLD, seq=0), dns(1.0, outcome=Outcome.DNS_NXDOMAIN, seq=1),
                      dns(1.5, outcome=Outcome.DNS_TIMEOUT, seq=2),  # a lost query says nothing
                      Sample(STACK.dns_probe, "dns", "x", 3, 2.0, 2.0, T0 + 2.0, Outcome.OK, 0.001,
                             answers=("::ffff:127.9.9.9",))])

    spans = record_spans(view, STACK, T0, ADDRESSES, {})

    assert [s.names for s in spans] == [(OLD,), (), ("::ffff:127.9.9.9",)]


def test_thrash_where_the_older_instance_leaves_after_the_newcomer_is_named() -> None:
    """The hook variant: the newcomer is named at +7.5 s, the older one leaves at +8 s: a 0.5 s last-writer-wins
    window, no stale time, a short outage while CloudFront's cached answer still names the older one."""
    answers = [(t, (OLD,)) for t in every(0.5, 0.0, 7.0)] + [(t, (NEW,)) for t in every(0.5, 7.5, 20.0)]
    served = [(t, OLD) for t in every(0.2, 0.0, 8.0)] + [(t, None) for t in every(0.2, 8.2, 10.0)] \
        + [(t, NEW) for t in every(0.2, 10.2, 20.0)]
    view = timeline(answers, served, {OLD: 8.0})

    reading = read_thrash(view, STACK, T0, analyze(view, fault_at=T0, probe=STACK.cdn_probe), NEW,
                          [(T0 + 8.0, OLD)], ADDRESSES)

    assert (reading.survivor, reading.left, reading.final_names) == (NEW, (OLD,), (NEW,))
    assert (reading.named_newcomer_s, reading.lww_start_s, reading.lww_end_s) == (7.5, 7.5, 8.0)
    assert reading.stale_s == 0.0
    assert reading.served_by_survivor
    assert abs(reading.outage_s - 2.0) < 0.21 and reading.fallback_samples == 10 and reading.error_samples == 0


def test_thrash_where_the_newcomer_leaves_strands_the_name() -> None:
    """Last writer wins, and then leaves: the record ends naming an instance that is gone while the older one
    serves alone, unnamed."""
    answers = [(t, (OLD,)) for t in every(0.5, 0.0, 5.0)] + [(t, (NEW,)) for t in every(0.5, 5.5, 20.0)]
    served = [(t, OLD) for t in every(0.2, 0.0, 8.0)] + [(t, None) for t in every(0.2, 8.2, 20.0)]
    view = timeline(answers, served, {NEW: 6.0})

    reading = read_thrash(view, STACK, T0, analyze(view, fault_at=T0, probe=STACK.cdn_probe), NEW,
                          [(T0 + 6.0, NEW)], ADDRESSES)

    assert (reading.survivor, reading.final_names) == (OLD, (NEW,))
    assert (reading.lww_start_s, reading.lww_end_s) == (5.5, 6.0)  # then the one it named went
    assert reading.stale_s == 14.0
    assert not reading.served_by_survivor
