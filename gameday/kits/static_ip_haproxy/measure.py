"""static-ip-haproxy's readings: pure functions of a timeline (the share of answers naming a dead address over
time, when a proxy first served from the other fleet). When a dead address left the answers is the generic
block's `address_move` (gameday/kits/blocks/dns_answers.py)."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from gameday.kits.blocks.dns_answers import answered
from gameday.timeline import Event, Timeline

MEASURE_EVENT = "gameday.measure"


def dead_share(timeline: Timeline, probe: str, dead: Collection[str], fault_at: float,
               bucket_s: float = 1.0) -> list[tuple[float, float, int]]:
    """Per bucket since the fault: (start s, share of answers naming a dead address, answers)."""
    buckets: dict[int, list[bool]] = {}
    for sample in answered(timeline, probe, fault_at):
        buckets.setdefault(int((sample.sent_at - fault_at) // bucket_s), []).append(
            bool(set(sample.answers) & set(dead)))
    return [(index * bucket_s, sum(hits) / len(hits), len(hits)) for index, hits in sorted(buckets.items())]


def address_sets(timeline: Timeline, probe: str, since: float,
                 bucket_s: float = 1.0) -> list[tuple[float, tuple[str, ...]]]:
    """The set of addresses DNS handed out per bucket (weighted answers carry one address each)."""
    buckets: dict[int, set[str]] = {}
    for sample in answered(timeline, probe, since):
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

