"""What the load saw, second by second through the failover, and how it compares with the probes.

Pure functions of a `Timeline`, each one streamed pass over its samples. Requests are counted in the second
they were sent (a request that hung for five seconds belongs to the second it started in). Latency percentiles
(nearest-rank, as in `gameday.analysis`) are over answered requests; requests that never got an answer are
errors, not latencies.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.analysis import percentiles
from gameday.load.merge import LOAD_KIND, LOAD_PREFIX
from gameday.timeline import Sample, Timeline


@dataclass(frozen=True)
class LoadSecond:
    """One second of load: how many requests were sent in it and how they ended."""

    second: int  # whole seconds since the timeline's origin
    at: float  # epoch seconds where this second starts
    requests: int
    ok: int
    errors: int
    errors_by_outcome: tuple[tuple[str, int], ...]
    error_rate: float  # errors / requests, 0.0 for an empty second
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    served_by: tuple[tuple[str, int], ...]  # answers per serving instance

    def to_dict(self) -> dict[str, Any]:
        return {"second": self.second, "at": self.at, "requests": self.requests, "ok": self.ok,
                "errors": self.errors, "errors_by_outcome": dict(self.errors_by_outcome),
                "error_rate": self.error_rate, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "p99_ms": self.p99_ms, "served_by": dict(self.served_by)}


@dataclass(frozen=True)
class ErrorView:
    """Errors as one source (the load, or the probes) saw them."""

    source: str
    requests: int
    errors: int
    error_rate: float
    errors_by_outcome: tuple[tuple[str, int], ...]
    first_error_at: float | None
    last_error_at: float | None
    errors_in_window: int | None  # inside the given outage window (None: no window given)
    errors_outside_window: int | None
    by_probe: tuple[tuple[str, int, int], ...]  # (probe, requests, errors)

    @property
    def error_span_s(self) -> float | None:
        if self.first_error_at is None or self.last_error_at is None:
            return None
        return self.last_error_at - self.first_error_at

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "requests": self.requests, "errors": self.errors,
                "error_rate": self.error_rate, "errors_by_outcome": dict(self.errors_by_outcome),
                "first_error_at": self.first_error_at, "last_error_at": self.last_error_at,
                "error_span_s": self.error_span_s, "errors_in_window": self.errors_in_window,
                "errors_outside_window": self.errors_outside_window,
                "by_probe": [{"probe": p, "requests": n, "errors": e} for p, n, e in self.by_probe]}


@dataclass(frozen=True)
class LoadVsProbes:
    """The errors users under load saw against the errors the probes saw, over the same run."""

    load: ErrorView
    probes: ErrorView
    window: tuple[float, float] | None

    @property
    def first_error_gap_s(self) -> float | None:
        """How much later (+) or earlier (-) the load saw its first error than the probes."""
        if self.load.first_error_at is None or self.probes.first_error_at is None:
            return None
        return self.load.first_error_at - self.probes.first_error_at

    @property
    def last_error_gap_s(self) -> float | None:
        """How much longer (+) the load kept seeing errors after the probes' last one."""
        if self.load.last_error_at is None or self.probes.last_error_at is None:
            return None
        return self.load.last_error_at - self.probes.last_error_at

    def to_dict(self) -> dict[str, Any]:
        return {"load": self.load.to_dict(), "probes": self.probes.to_dict(),
                "window": list(self.window) if self.window else None,
                "first_error_gap_s": self.first_error_gap_s, "last_error_gap_s": self.last_error_gap_s}


def is_load(sample: Sample) -> bool:
    return sample.kind == LOAD_KIND and sample.probe.startswith(LOAD_PREFIX)


def load_samples(timeline: Timeline, probe_prefix: str = LOAD_PREFIX) -> list[Sample]:
    return [s for s in timeline.iter_samples() if is_load(s) and s.probe.startswith(probe_prefix)]


def load_per_second(timeline: Timeline, *, probe_prefix: str = LOAD_PREFIX, start_at: float | None = None,
                    end_at: float | None = None) -> list[LoadSecond]:
    """One row per second from the first to the last load request (empty seconds included). One streamed
    pass: each second keeps its counts and its latencies, not its samples."""
    buckets: dict[int, _Second] = {}
    for sample in timeline.iter_samples():
        if not (is_load(sample) and sample.probe.startswith(probe_prefix)):
            continue
        if (start_at is not None and sample.sent_at < start_at) or (end_at is not None and sample.sent_at >= end_at):
            continue
        n = math.floor(sample.sent_at - timeline.origin_at)
        bucket = buckets.get(n)
        if bucket is None:
            bucket = buckets[n] = _Second()
        bucket.add(sample)
    if not buckets:
        return []
    first, last = min(buckets), max(buckets)
    return [(buckets.get(n) or _Second()).row(timeline.origin_at, n) for n in range(first, last + 1)]


def compare_load_and_probes(timeline: Timeline, *, window: tuple[float, float] | None = None,
                            probes: Sequence[str] | None = None,
                            load_prefix: str = LOAD_PREFIX) -> LoadVsProbes:
    """Errors seen by load vs by probes; `window` (epoch start, end) splits errors inside/outside it."""
    load, seen = _Errors(window), _Errors(window)
    for s in timeline.iter_samples():
        if is_load(s):
            if s.probe.startswith(load_prefix):
                load.add(s)
        elif probes is None or s.probe in probes:
            seen.add(s)
    return LoadVsProbes(load=load.view("load"), probes=seen.view("probes"), window=window)


class _Second:
    """One second of load requests: counts and latencies."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.latency_ms = array("d")
        self.served: Counter[str] = Counter()

    def add(self, s: Sample) -> None:
        self.requests += 1
        if not s.good:
            self.errors[s.outcome.value] += 1
        if s.latency_s is not None:
            self.latency_ms.append(s.latency_s * 1000.0)
        if s.served_by:
            self.served[s.served_by] += 1

    def row(self, origin_at: float, n: int) -> LoadSecond:
        latency = percentiles(self.latency_ms)
        error_count = sum(self.errors.values())
        return LoadSecond(second=n, at=origin_at + n, requests=self.requests, ok=self.requests - error_count,
                          errors=error_count, errors_by_outcome=tuple(sorted(self.errors.items())),
                          error_rate=error_count / self.requests if self.requests else 0.0,
                          p50_ms=_round(latency.p50), p95_ms=_round(latency.p95), p99_ms=_round(latency.p99),
                          served_by=tuple(sorted(self.served.items())))


class _Errors:
    """Errors as one source saw them, counted sample by sample."""

    def __init__(self, window: tuple[float, float] | None) -> None:
        self.window = window
        self.requests = self.errors = self.inside = 0
        self.by_outcome: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float | None = None
        self.per_probe: dict[str, list[int]] = {}

    def add(self, s: Sample) -> None:
        self.requests += 1
        counts = self.per_probe.setdefault(s.probe, [0, 0])
        counts[0] += 1
        if s.good:
            return
        counts[1] += 1
        self.errors += 1
        self.by_outcome[s.outcome.value] += 1
        self.first = s.sent_at if self.first is None else min(self.first, s.sent_at)
        self.last = s.sent_at if self.last is None else max(self.last, s.sent_at)
        if self.window is not None and self.window[0] <= s.sent_at <= self.window[1]:
            self.inside += 1

    def view(self, source: str) -> ErrorView:
        inside = None if self.window is None else self.inside
        return ErrorView(
            source=source, requests=self.requests, errors=self.errors,
            error_rate=self.errors / self.requests if self.requests else 0.0,
            errors_by_outcome=tuple(sorted(self.by_outcome.items())), first_error_at=self.first,
            last_error_at=self.last, errors_in_window=inside,
            errors_outside_window=None if inside is None else self.errors - inside,
            by_probe=tuple((p, n, e) for p, (n, e) in sorted(self.per_probe.items())))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def load_report(timeline: Timeline, *, window: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """The load section of a scenario's report: per-second rows and load vs probes; None without load."""
    rows = load_per_second(timeline)
    if not rows:
        return None
    return {"per_second": [row.to_dict() for row in rows],
            "vs_probes": compare_load_and_probes(timeline, window=window).to_dict()}
