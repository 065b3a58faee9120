"""The run's timeline: every probe sample and every event, in one append-only, thread-safe record.

Reports and analysis are pure functions of a `Timeline`. Timestamps are wall-clock epoch seconds
(µs resolution); `*_mono` fields are monotonic offsets in seconds from the timeline's origin.

A long run does not hold its samples in memory: past `SPILL_AT` held samples the timeline spools them to
a raw timeline file (gzip JSON Lines, appended a chunk at a time, docs/timeline.md) and keeps only the
latest `KEEP` in memory, with a few counters per probe. Whole-run readers stream (`iter_samples`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from gameday.clock import Clock, SystemClock

SCHEMA_VERSION = 1
RAW_FORMAT = "gameday-timeline-jsonl"  # the raw timeline file: gzip JSON Lines (docs/timeline.md)
RAW_SCHEMA = 2
SPILL_AT = 50_000  # held samples before a timeline spools to disk (short runs never do)
KEEP = 20_000  # samples kept in memory once spooled: the latest, for the steady-state and watch loops
CHUNK = 1_024  # lines per gzip member appended to the spool (no fsync: a crash loses the last chunk at most)
CATCH_UP = 256  # held samples written to the spool per add beyond the added ones: no long stall at the spill


class Outcome(StrEnum):
    """What one probe sample saw. Good means the client would have been served."""

    OK = "ok"
    HTTP_3XX = "http_3xx"  # a redirect the probe was not told to expect: not the page the user asked for
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    FALLBACK = "fallback"  # a 2xx, but not from the service (a maintenance or fallback page: no expected identity)
    REFUSED = "refused"
    TIMEOUT = "timeout"  # no answer within the probe's timeout (connect or read)
    CONNECT_TIMEOUT = "connect_timeout"  # TCP handshake never completed (black hole)
    RESET = "reset"
    DNS_NXDOMAIN = "dns_nxdomain"
    DNS_NODATA = "dns_nodata"
    DNS_SERVFAIL = "dns_servfail"
    DNS_REFUSED = "dns_refused"
    DNS_TIMEOUT = "dns_timeout"
    DNS_TRUNCATED = "dns_truncated"  # truncated over UDP and the TCP retry failed too
    DNS_BAD_REPLY = "dns_bad_reply"  # a reply that does not parse or does not match the query
    UNREACHABLE = "unreachable"  # no route to host / network unreachable (ICMP)
    CLOSED = "closed"  # peer closed the connection (FIN) before a complete response
    TLS_ERROR = "tls_error"  # TLS handshake or certificate failure
    BAD_RESPONSE = "bad_response"  # an HTTP response that does not parse
    BLOCKED = "blocked"  # the runner's network guard refused the address; nothing was sent
    ERROR = "error"  # anything else the probe could not classify; `detail` says what

    @property
    def good(self) -> bool:
        return self is Outcome.OK


@dataclass(frozen=True)
class Sample:
    """One probe send and what came back."""

    probe: str  # probe name, unique in the run, e.g. "http:eip"
    kind: str  # http | http_keepalive | dns | health | tcp
    target: str  # URL, name/TYPE@server, or host:port
    seq: int  # per-probe sequence number, from 0
    scheduled_mono: float  # when the schedule said to send
    sent_mono: float  # when it was actually sent
    sent_at: float  # epoch seconds of the send
    outcome: Outcome
    latency_s: float | None  # None when the probe never got an answer
    status: int | None = None  # HTTP status
    answers: tuple[str, ...] = ()  # DNS answer set, sorted
    ttl: int | None = None  # DNS answer TTL
    served_by: str | None = None  # serving identity (response header)
    peer: str | None = None  # address actually connected to / answered from
    detail: str = ""
    connect_s: float | None = None  # TCP connect (+ TLS) time, when a new connection was made
    reused: bool | None = None  # keep-alive: rode an already open connection (None: not applicable)

    @property
    def good(self) -> bool:
        return self.outcome.good

    @property
    def at(self) -> float:
        """When the sample happened, for analysis: the epoch time of the send."""
        return self.sent_at

    @property
    def lateness_s(self) -> float:
        return self.sent_mono - self.scheduled_mono


@dataclass(frozen=True)
class Event:
    """Something that happened at a point in time: a fault, a phase, a ground-truth fact."""

    at: float  # epoch seconds
    kind: str  # dotted, e.g. "fault.inject", "localcloud.instance.running"
    source: str  # "gameday", "localcloud", "aws", "load"
    subject: str = ""  # resource the event is about (instance id, address, …)
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ProbeStats:
    """What a timeline remembers of one probe without its samples: enough for lanes, counts and axes."""

    kind: str
    target: str
    count: int = 0
    errors: int = 0
    first_at: float = float("inf")
    last_at: float = float("-inf")


@dataclass
class Timeline:
    """Append-only record of a run. Safe to append from probe and watcher threads.

    `samples` holds every sample until the timeline spools (past SPILL_AT), then only the latest; `events`
    always holds every event (a run has few). Use `iter_samples()` for the whole run, `samples_of(probe)`
    for one probe's (read back from the spool when spooled)."""

    run_id: str
    origin_at: float  # epoch seconds at monotonic offset 0
    origin_mono: float  # time.monotonic() at the origin (process-local, not serialised meaning)
    labels: dict[str, str] = field(default_factory=dict)  # backend, profile, stack, scenario …
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _spool: _Spool | None = field(default=None, repr=False, compare=False)
    _stats: dict[str, ProbeStats] = field(default_factory=dict, repr=False, compare=False)
    _written: int = field(default=0, repr=False, compare=False)  # samples[:_written] are in the spool

    @classmethod
    def begin(cls, run_id: str, clock: Clock | None = None,
              labels: Mapping[str, str] | None = None) -> Timeline:
        """A new, empty timeline whose origin is now on `clock`."""
        clock = clock or SystemClock()
        return cls(run_id=run_id, origin_at=clock.now(), origin_mono=clock.monotonic(),
                   labels=dict(labels or {}))

    def add_sample(self, sample: Sample) -> None:
        self.add_samples((sample,))

    def add_samples(self, samples: Iterable[Sample]) -> None:
        with self._lock:
            added = len(self.samples)
            for sample in samples:
                self.samples.append(sample)
                self._count(sample)
            added = len(self.samples) - added
            if self._spool is None and len(self.samples) > SPILL_AT:
                self._spool = _Spool.create(_spool_path(), self._header(), owned=True)
            if self._spool is not None:
                self._write(added + CATCH_UP)

    def add_event(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def add_events(self, events: Iterable[Event]) -> None:
        with self._lock:
            self.events.extend(events)

    def spool_to(self, path: Path) -> None:
        """Write every sample to the raw timeline file `path` from now on (the samples so far first)."""
        with self._lock:
            if self._spool is not None:
                raise ValueError(f"timeline {self.run_id} already spools to {self._spool.path}")
            self._spool = _Spool.create(path, self._header(), owned=False)
            self._write(len(self.samples))

    @property
    def spooled(self) -> bool:
        """Whether some samples live only in the spool (the in-memory `samples` are the latest)."""
        return self._spool is not None and self._spool.dropped > 0

    @property
    def sample_count(self) -> int:
        with self._lock:
            return sum(s.count for s in self._stats.values())

    def stats(self) -> dict[str, ProbeStats]:
        """Per probe: kind, target, sample and error counts, first and last send time (whole run)."""
        with self._lock:
            return {name: ProbeStats(**vars(s)) for name, s in self._stats.items()}

    def snapshot(self) -> tuple[list[Sample], list[Event]]:
        """The samples held in memory (all of them unless spooled: then the latest) and every event."""
        with self._lock:
            return list(self.samples), list(self.events)

    def iter_samples(self) -> Iterator[Sample]:
        """Every sample of the run in the order recorded, streamed from the spool when there is one."""
        with self._lock:
            spooled = self.spooled
            if not spooled:
                held = list(self.samples)
            else:
                assert self._spool is not None
                size = self._spool.flush()
                source, held = self._spool.source(), self.samples[self._written:]
        if spooled:
            yield from _read_samples(source, size)
        yield from held

    def samples_of(self, probe: str) -> list[Sample]:
        if self.spooled:
            return sorted((s for s in self.iter_samples() if s.probe == probe), key=lambda s: s.seq)
        with self._lock:
            return sorted((s for s in self.samples if s.probe == probe), key=lambda s: s.seq)

    def recent_of(self, probe: str, since: float) -> list[Sample]:
        """`probe`'s samples sent at or after `since` (epoch), from memory when memory reaches back that far."""
        with self._lock:
            held = [s for s in self.samples if s.probe == probe]
            covered = not self.spooled or (bool(held) and held[0].sent_at <= since)
        if not covered:
            held = self.samples_of(probe)
        return sorted((s for s in held if s.sent_at >= since), key=lambda s: s.seq)

    def events_of(self, kind_prefix: str) -> list[Event]:
        with self._lock:
            found = [e for e in self.events if e.kind.startswith(kind_prefix)]
        return sorted(found, key=lambda e: e.at)

    def probes(self) -> list[str]:
        with self._lock:
            return sorted(self._stats)

    def close(self) -> None:
        """Close the spool (one the timeline made for itself has no name on disk: closing frees it; a file given
        to `spool_to` stays)."""
        with self._lock:
            if self._spool is not None:
                self._spool.close()

    def _count(self, sample: Sample) -> None:
        stats = self._stats.get(sample.probe)
        if stats is None:
            stats = self._stats[sample.probe] = ProbeStats(sample.kind, sample.target)
        stats.count += 1
        stats.errors += not sample.good
        stats.first_at = min(stats.first_at, sample.sent_at)
        stats.last_at = max(stats.last_at, sample.sent_at)

    def _write(self, limit: int) -> None:
        """Spool up to `limit` held samples not yet written, oldest first (so the spill of a full memory is
        spread over the next adds); past SPILL_AT, drop the written ones but the latest KEEP."""
        assert self._spool is not None
        end = min(len(self.samples), self._written + limit)
        for sample in self.samples[self._written:end]:
            self._spool.add(sample)
        self._written = end
        dropped = len(self.samples) - KEEP
        if len(self.samples) > SPILL_AT and self._written >= dropped:  # once caught up: down to KEEP at once
            self._spool.flush()
            self._spool.dropped += dropped
            self._written -= dropped
            del self.samples[:dropped]

    def _header(self) -> dict[str, Any]:
        return {"format": RAW_FORMAT, "schema": RAW_SCHEMA, "run_id": self.run_id, "origin_at": self.origin_at,
                "labels": dict(self.labels)}

    # --- serialisation (schema documented in docs/timeline.md) ---

    def to_dict(self) -> dict[str, Any]:
        """The whole timeline as one JSON document (schema 1): for short runs; a long one writes `write_raw`."""
        events = self.snapshot()[1]
        return {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "origin_at": self.origin_at,
            "labels": dict(self.labels),
            "samples": [_sample_to_dict(s) for s in self.iter_samples()],
            "events": [_event_to_dict(e) for e in sorted(events, key=lambda e: e.at)],
        }

    def to_events(self) -> list[dict[str, Any]]:
        """Every event as JSON objects, sorted by time (the events of a raw timeline, for report.json)."""
        return [_event_to_dict(e) for e in sorted(self.snapshot()[1], key=lambda e: e.at)]

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    def write_raw(self, path: Path) -> None:
        """The raw timeline file (gzip JSON Lines: header, probes, samples, events), streamed: a spooled
        timeline's chunks are copied as they are."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            spool = self._spool
            if spool is not None:
                self._write(len(self.samples))
            size = spool.flush() if spool is not None else 0
            held = [] if spool is not None else list(self.samples)
            events = sorted(self.events, key=lambda e: e.at)
        if spool is not None and spool.path.resolve() == path.resolve():
            raise ValueError(f"{path} is this timeline's own spool: write the raw timeline elsewhere")
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as out:
            if spool is not None:
                with _descriptor(spool.source()) as fd:
                    shutil.copyfileobj(io.BufferedReader(_Prefix(fd, size)), out)
            else:
                writer = _Spool(tmp, out, owned=False)
                writer.start(self._header())
                for sample in held:
                    writer.add(sample)
                writer.flush()
            out.write(gzip.compress(_event_lines(events), compresslevel=6))
        tmp.replace(path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"unsupported timeline schema {data.get('schema')!r}")
        timeline = cls(
            run_id=str(data["run_id"]),
            origin_at=float(data["origin_at"]),
            origin_mono=0.0,
            labels={str(k): str(v) for k, v in data.get("labels", {}).items()},
        )
        timeline.add_samples(_sample_from_dict(s) for s in data.get("samples", []))
        timeline.events = [_event_from_dict(e) for e in data.get("events", [])]
        return timeline

    @classmethod
    def read(cls, path: Path) -> Timeline:
        """A timeline file: the raw format (gzip JSON Lines, streamed: samples stay on disk) or schema-1 JSON."""
        with path.open("rb") as f:
            raw = f.read(2) == b"\x1f\x8b"
        if raw:
            return cls.open_raw(path)
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def open_raw(cls, path: Path) -> Timeline:
        """A raw timeline file as a Timeline whose samples are read from the file when asked for."""
        header: dict[str, Any] | None = None
        timeline: Timeline | None = None
        for kind, row in _read_rows(path, None):
            if kind == "header":
                header = row
                if header.get("format") != RAW_FORMAT or header.get("schema") != RAW_SCHEMA:
                    raise ValueError(f"unsupported raw timeline {header.get('format')!r} schema "
                                     f"{header.get('schema')!r}")
                timeline = cls(run_id=str(header["run_id"]), origin_at=float(header["origin_at"]), origin_mono=0.0,
                               labels={str(k): str(v) for k, v in dict(header.get("labels", {})).items()})
            elif timeline is None:
                raise ValueError("a raw timeline starts with its header line")
            elif kind == "sample":
                timeline._count(row)
            elif kind == "event":
                timeline.events.append(row)
        if timeline is None:
            raise ValueError("empty raw timeline file")
        spool = _Spool(path, None, owned=False)
        spool.dropped = 1  # every sample lives in the file
        timeline._spool = spool
        return timeline


class _Spool:
    """Appends samples to a raw timeline file as gzip members of CHUNK lines each (buffered, no fsync)."""

    def __init__(self, path: Path, out: io.BufferedWriter | io.BufferedRandom | Any | None, *, owned: bool) -> None:
        self.path, self.out, self.owned = path, out, owned
        self.pending: list[str] = []
        self.probe_ids: dict[str, int] = {}
        self.size = 0
        self.dropped = 0  # samples no longer held in memory

    @classmethod
    def create(cls, path: Path, header: Mapping[str, Any], *, owned: bool) -> _Spool:
        """A spool writing to `path`; an `owned` one (the timeline's own) is unlinked at once and read through its
        descriptor, so nothing is left behind however the process ends."""
        path.parent.mkdir(parents=True, exist_ok=True)
        spool = cls(path, path.open("w+b"), owned=owned)
        if owned:
            path.unlink()
        spool.start(header)
        return spool

    def source(self) -> Path | int:
        """Where readers read: the file, or the open descriptor of an unlinked one."""
        return self.out.fileno() if self.owned and self.out is not None else self.path

    def start(self, header: Mapping[str, Any]) -> None:
        self.pending.append(json.dumps(header, separators=(",", ":")))

    def add(self, sample: Sample) -> None:
        pid = self.probe_ids.get(sample.probe)
        if pid is None:
            pid = self.probe_ids[sample.probe] = len(self.probe_ids)
            self.pending.append(json.dumps(["p", pid, sample.probe, sample.kind, sample.target],
                                           separators=(",", ":")))
        self.pending.append(_sample_line(pid, sample))
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> int:
        """Write the pending lines as one gzip member; the file's size in bytes (what a reader may read)."""
        if self.pending and self.out is not None:
            self.out.write(gzip.compress(("\n".join(self.pending) + "\n").encode(), compresslevel=6))
            self.out.flush()
            self.pending = []
        if self.out is not None:
            self.size = self.out.tell()
        elif self.path.exists():
            self.size = self.path.stat().st_size
        return self.size

    def close(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()


# A sample as one JSON array: ["s", probe id, seq, scheduled_mono, sent_mono, sent_at, outcome, latency_s, status,
# answers, ttl, served_by, peer, detail, connect_s, reused], trailing defaults left off.
_ROW_DEFAULTS: tuple[Any, ...] = (None, None, [], None, None, None, "", None, None)


def _spool_path() -> Path:
    fd, name = tempfile.mkstemp(prefix=f"gameday-timeline-{os.getpid()}-", suffix=".jsonl.gz")
    os.close(fd)
    return Path(name)


def _sample_line(pid: int, s: Sample) -> str:
    tail = [s.latency_s, s.status, list(s.answers), s.ttl, s.served_by, s.peer, s.detail, s.connect_s, s.reused]
    while tail and tail[-1] == _ROW_DEFAULTS[len(tail) - 1]:
        tail.pop()
    return json.dumps(["s", pid, s.seq, s.scheduled_mono, s.sent_mono, s.sent_at, s.outcome.value, *tail],
                      separators=(",", ":"))


def _event_lines(events: Iterable[Event]) -> bytes:
    return "".join(json.dumps(["e", e.at, e.kind, e.source, e.subject, dict(e.detail)], separators=(",", ":"))
                   + "\n" for e in events).encode()


class _Prefix(io.RawIOBase):
    """The first `size` bytes of a file descriptor, read with pread (the writer's offset is left alone): what
    was complete when the reader asked."""

    def __init__(self, fd: int, size: int | None) -> None:
        self.fd, self.size, self.offset = fd, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        want = len(view) if self.size is None else min(len(view), self.size - self.offset)
        data = os.pread(self.fd, want, self.offset) if want > 0 else b""
        view[:len(data)] = data
        self.offset += len(data)
        return len(data)


@contextmanager
def _descriptor(source: Path | int) -> Iterator[int]:
    if isinstance(source, int):
        yield source
        return
    with source.open("rb") as f:
        yield f.fileno()


def _read_rows(source: Path | int, size: int | None) -> Iterator[tuple[str, Any]]:
    """("header", dict) | ("sample", Sample) | ("event", Event) rows of a raw timeline file."""
    probes: dict[int, tuple[str, str, str]] = {}
    with _descriptor(source) as fd, gzip.GzipFile(fileobj=io.BufferedReader(_Prefix(fd, size))) as unzipped:
        for line in _whole_lines(io.TextIOWrapper(unzipped, encoding="utf-8")):
            row = json.loads(line)
            if isinstance(row, dict):
                yield "header", row
            elif row[0] == "s":
                probe, kind, target = probes[row[1]]
                tail = row[7:] + list(_ROW_DEFAULTS[len(row) - 7:])
                yield "sample", Sample(probe, kind, target, row[2], row[3], row[4], row[5], Outcome(row[6]), tail[0],
                                       tail[1], tuple(tail[2]), tail[3], tail[4], tail[5], tail[6], tail[7], tail[8])
            elif row[0] == "p":
                probes[row[1]] = (row[2], row[3], row[4])
            elif row[0] == "e":
                yield "event", Event(at=float(row[1]), kind=str(row[2]), source=str(row[3]), subject=str(row[4]),
                                     detail=dict(row[5]))


def _whole_lines(lines: Iterator[str]) -> Iterator[str]:
    """The lines of the complete gzip members: a chunk torn by a killed writer ends the file there."""
    while True:
        try:
            line = next(lines)
        except (StopIteration, EOFError):
            return
        if line.endswith("\n"):
            yield line


def _read_samples(source: Path | int, size: int | None) -> Iterator[Sample]:
    for kind, row in _read_rows(source, size):
        if kind == "sample":
            yield row


def _sample_to_dict(sample: Sample) -> dict[str, Any]:
    data = asdict(sample)
    data["outcome"] = sample.outcome.value
    data["answers"] = list(sample.answers)
    return data


_SAMPLE_FIELDS = frozenset(f.name for f in fields(Sample))


def _sample_from_dict(data: Mapping[str, Any]) -> Sample:
    # Keys this version does not know are dropped, so a newer writer stays readable.
    known = {k: v for k, v in data.items() if k in _SAMPLE_FIELDS}
    known["outcome"] = Outcome(known["outcome"])
    known["answers"] = tuple(known.get("answers", ()))
    return Sample(**known)


def _event_to_dict(event: Event) -> dict[str, Any]:
    return {"at": event.at, "kind": event.kind, "source": event.source,
            "subject": event.subject, "detail": dict(event.detail)}


def _event_from_dict(data: Mapping[str, Any]) -> Event:
    return Event(at=float(data["at"]), kind=str(data["kind"]), source=str(data["source"]),
                 subject=str(data.get("subject", "")), detail=dict(data.get("detail", {})))
