"""Puts a load run's per-request records on the scenario's timeline, next to the probes' samples.

Each request becomes a `Sample` of kind `load`, probe `load:<endpoint>/<client>` (e.g.
`load:root/keepalive`), so reports stay pure functions of the `Timeline`. Load has no send schedule (its
users are closed loops), so a load sample's scheduled and sent times are the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gameday.load.records import LoadRecord, iter_record_files, read_record_file
from gameday.timeline import Event, Sample, Timeline

LOAD_KIND = "load"
LOAD_PREFIX = "load:"
_CLIENT_NAMES = {"KeepAliveClient": "keepalive", "FreshConnectionClient": "fresh"}


@dataclass(frozen=True)
class MergeSummary:
    files: int
    records: int
    events: int
    malformed: int  # unreadable lines, e.g. the torn last line of a killed process

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_name(record: LoadRecord) -> str:
    client = _CLIENT_NAMES.get(record.client, record.client or "client")
    return f"{LOAD_PREFIX}{record.endpoint}/{client}"


def to_samples(records: Iterable[LoadRecord], timeline: Timeline, target: str) -> list[Sample]:
    by_probe: dict[str, list[LoadRecord]] = defaultdict(list)
    for record in records:
        by_probe[probe_name(record)].append(record)
    samples = []
    for probe, recs in by_probe.items():
        recs.sort(key=lambda r: r.sent_at)
        for seq, record in enumerate(recs):
            offset = record.sent_at - timeline.origin_at
            answered = record.status is not None
            detail = record.detail
            if not answered:
                detail = f"{detail} after {record.elapsed_s:.3f} s".strip()
            samples.append(Sample(
                probe=probe, kind=LOAD_KIND, target=target, seq=seq, scheduled_mono=offset, sent_mono=offset,
                sent_at=record.sent_at, outcome=record.outcome,
                latency_s=record.elapsed_s if answered else None, status=record.status,
                served_by=record.served_by, detail=detail))
    return samples


def merge_records(timeline: Timeline, records_dir: Path, *, target: str) -> MergeSummary:
    """Read every `*.jsonl` in `records_dir` and add its requests and events to `timeline`."""
    records: list[LoadRecord] = []
    events: list[Event] = []
    files = malformed = 0
    for path in iter_record_files(records_dir) if records_dir.is_dir() else ():
        contents = read_record_file(path)
        files += 1
        malformed += contents.malformed
        records += contents.records
        events += [Event(at=e.at, kind=e.kind, source="load", subject=target, detail=e.detail)
                   for e in contents.events]
    timeline.add_samples(to_samples(records, timeline, target))
    timeline.add_events(events)
    return MergeSummary(files=files, records=len(records), events=len(events), malformed=malformed)
