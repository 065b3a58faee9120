"""Puts a load run's per-request records on the scenario's timeline, next to the probes' samples.

Each request becomes a `Sample` of kind `load`, probe `load:<endpoint>/<client>` (e.g.
`load:root/keepalive`), so reports stay pure functions of the `Timeline`. Load has no send schedule (its
users are closed loops), so a load sample's scheduled and sent times are the same.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gameday.load.records import LoadEventRecord, LoadRecord, iter_record_files, iter_record_lines
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
        samples += [to_sample(record, probe, seq, timeline, target) for seq, record in enumerate(recs)]
    return samples


def to_sample(record: LoadRecord, probe: str, seq: int, timeline: Timeline, target: str) -> Sample:
    offset = record.sent_at - timeline.origin_at
    answered = record.status is not None
    detail = record.detail
    if not answered:
        detail = f"{detail} after {record.elapsed_s:.3f} s".strip()
    return Sample(probe=probe, kind=LOAD_KIND, target=target, seq=seq, scheduled_mono=offset, sent_mono=offset,
                  sent_at=record.sent_at, outcome=record.outcome, latency_s=record.elapsed_s if answered else None,
                  status=record.status, served_by=record.served_by, detail=detail)


def merge_records(timeline: Timeline, records_dir: Path, *, target: str) -> MergeSummary:
    """Read every `*.jsonl` in `records_dir` and add its requests and events to `timeline`.

    Streamed: the files are merged in send order (each file is in completion order, put in send order within
    REORDER_S), so a soak's hours of records never sit in memory; seq counts each probe's requests in send
    order."""
    tally = _Tally()
    paths = list(iter_record_files(records_dir)) if records_dir.is_dir() else []
    streams = [_in_send_order(_requests(path, tally, target)) for path in paths]
    seqs: dict[str, int] = defaultdict(int)
    batch: list[Sample] = []
    for record in heapq.merge(*streams, key=lambda r: r.sent_at):
        probe = probe_name(record)
        batch.append(to_sample(record, probe, seqs[probe], timeline, target))
        seqs[probe] += 1
        if len(batch) >= BATCH:
            timeline.add_samples(batch)
            batch = []
    timeline.add_samples(batch)
    timeline.add_events(tally.events)
    return MergeSummary(files=len(paths), records=tally.records, events=len(tally.events), malformed=tally.malformed)


REORDER_S = 60.0  # a request is written when it ends: at most this long after it was sent
BATCH = 4_096


@dataclass
class _Tally:
    records: int = 0
    malformed: int = 0
    events: list[Event] = field(default_factory=list)


def _requests(path: Path, tally: _Tally, target: str) -> Iterator[LoadRecord]:
    for line in iter_record_lines(path):
        if isinstance(line, LoadRecord):
            tally.records += 1
            yield line
        elif isinstance(line, LoadEventRecord):
            tally.events.append(Event(at=line.at, kind=line.kind, source="load", subject=target, detail=line.detail))
        else:
            tally.malformed += 1


def _in_send_order(records: Iterable[LoadRecord]) -> Iterator[LoadRecord]:
    pending: list[tuple[float, int, LoadRecord]] = []
    newest = -math.inf
    for n, record in enumerate(records):
        heapq.heappush(pending, (record.sent_at, n, record))
        newest = max(newest, record.sent_at)
        while pending[0][0] < newest - REORDER_S:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]
