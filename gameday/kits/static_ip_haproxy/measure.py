"""static-ip-haproxy's readings: pure functions of a timeline (when a dead address left the DNS answers, the
share of answers naming a dead address over time, when a proxy first served from the other fleet)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from gameday.timeline import Event, Outcome, Sample, Timeline

MEASURE_EVENT = "gameday.measure"


@dataclass(frozen=True)
class DnsLeave:
    """When the dead addresses stopped appearing in a DNS probe's answers."""

    probe: str
    dead: tuple[str, ...]
    last_seen_s: float | None  # since the fault; None: never seen after the fault
    left: bool  # answers after it never contain a dead address again (within the watch)
    answers_after: int


def _answered(timeline: Timeline, probe: str, since: float) -> list[Sample]:
    return [s for s in timeline.samples_of(probe) if s.outcome is Outcome.OK and s.sent_at >= since]


def dns_leave(timeline: Timeline, probe: str, dead: Collection[str], fault_at: float,
              gap_s: float = 3.0) -> DnsLeave:
    """The last answer naming a dead address before the first gap of `gap_s` without one: the time it
    left the answers (a node that is replaced with the same address may come back later; that is not
    part of leaving). Weighted answers name one address each, so a gap shorter than a few seconds is chance."""
    answered = _answered(timeline, probe, fault_at)
    sightings = [s.sent_at for s in answered if set(s.answers) & set(dead)]
    end = answered[-1].sent_at if answered else fault_at
    last: float | None = None
    left = False
    for index, seen in enumerate(sightings):
        following = sightings[index + 1] if index + 1 < len(sightings) else None
        last = seen
        if (following if following is not None else end) - seen >= gap_s:
            left = True
            break
    if not sightings:  # gone before the first answer after the fault
        left = bool(answered) and end - fault_at >= gap_s
    after = [s for s in answered if last is None or s.sent_at > last]
    return DnsLeave(probe, tuple(sorted(dead)), None if last is None else last - fault_at,
                    left=left, answers_after=len(after))


def dead_share(timeline: Timeline, probe: str, dead: Collection[str], fault_at: float,
               bucket_s: float = 1.0) -> list[tuple[float, float, int]]:
    """Per bucket since the fault: (start s, share of answers naming a dead address, answers)."""
    buckets: dict[int, list[bool]] = {}
    for sample in _answered(timeline, probe, fault_at):
        buckets.setdefault(int((sample.sent_at - fault_at) // bucket_s), []).append(
            bool(set(sample.answers) & set(dead)))
    return [(index * bucket_s, sum(hits) / len(hits), len(hits)) for index, hits in sorted(buckets.items())]


def address_sets(timeline: Timeline, probe: str, since: float,
                 bucket_s: float = 1.0) -> list[tuple[float, tuple[str, ...]]]:
    """The set of addresses DNS handed out per bucket (weighted answers carry one address each)."""
    buckets: dict[int, set[str]] = {}
    for sample in _answered(timeline, probe, since):
        buckets.setdefault(int((sample.sent_at - since) // bucket_s), set()).update(sample.answers)
    return [(index * bucket_s, tuple(sorted(found))) for index, found in sorted(buckets.items())]


def first_served_by(timeline: Timeline, probe: str, prefix: str, since: float) -> float | None:
    """Seconds from `since` to the first good answer whose identity starts with `prefix` (a fleet)."""
    for sample in timeline.samples_of(probe):
        if sample.sent_at >= since and sample.good and (sample.served_by or "").startswith(prefix):
            return sample.sent_at - since
    return None


def errors_after(timeline: Timeline, probe: str, since: float, until: float | None = None) -> tuple[int, int]:
    """(failed, total) samples of a probe sent in [since, until)."""
    picked = [s for s in timeline.samples_of(probe) if s.sent_at >= since and (until is None or s.sent_at < until)]
    return sum(not s.good for s in picked), len(picked)


def record(timeline: Timeline, name: str, subject: str, **detail: Any) -> None:
    """A measurement as a timeline event, so the report carries it next to the samples."""
    timeline.add_event(Event(time.time(), MEASURE_EVENT, "gameday", subject, {"measure": name, **detail}))

