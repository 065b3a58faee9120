"""The run's timeline: every probe sample and every event, in one append-only, thread-safe record.

Reports and analysis are pure functions of a `Timeline`. Timestamps are wall-clock epoch seconds
(µs resolution); `*_mono` fields are monotonic offsets in seconds from the timeline's origin.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from gameday.clock import Clock, SystemClock

SCHEMA_VERSION = 1


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
class Timeline:
    """Append-only record of a run. Safe to append from probe and watcher threads."""

    run_id: str
    origin_at: float  # epoch seconds at monotonic offset 0
    origin_mono: float  # time.monotonic() at the origin (process-local, not serialised meaning)
    labels: dict[str, str] = field(default_factory=dict)  # backend, profile, stack, scenario …
    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def begin(cls, run_id: str, clock: Clock | None = None,
              labels: Mapping[str, str] | None = None) -> Timeline:
        """A new, empty timeline whose origin is now on `clock`."""
        clock = clock or SystemClock()
        return cls(run_id=run_id, origin_at=clock.now(), origin_mono=clock.monotonic(),
                   labels=dict(labels or {}))

    def add_sample(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def add_samples(self, samples: Iterable[Sample]) -> None:
        with self._lock:
            self.samples.extend(samples)

    def add_event(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def add_events(self, events: Iterable[Event]) -> None:
        with self._lock:
            self.events.extend(events)

    def snapshot(self) -> tuple[list[Sample], list[Event]]:
        with self._lock:
            return list(self.samples), list(self.events)

    def samples_of(self, probe: str) -> list[Sample]:
        with self._lock:
            return sorted((s for s in self.samples if s.probe == probe), key=lambda s: s.seq)

    def events_of(self, kind_prefix: str) -> list[Event]:
        with self._lock:
            found = [e for e in self.events if e.kind.startswith(kind_prefix)]
        return sorted(found, key=lambda e: e.at)

    def probes(self) -> list[str]:
        with self._lock:
            return sorted({s.probe for s in self.samples})

    # --- serialisation (schema documented in docs/timeline.md) ---

    def to_dict(self) -> dict[str, Any]:
        samples, events = self.snapshot()
        return {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "origin_at": self.origin_at,
            "labels": dict(self.labels),
            "samples": [_sample_to_dict(s) for s in samples],
            "events": [_event_to_dict(e) for e in sorted(events, key=lambda e: e.at)],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

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
        timeline.samples = [_sample_from_dict(s) for s in data.get("samples", [])]
        timeline.events = [_event_from_dict(e) for e in data.get("events", [])]
        return timeline

    @classmethod
    def read(cls, path: Path) -> Timeline:
        return cls.from_dict(json.loads(path.read_text()))


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
