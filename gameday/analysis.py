"""Failover analysis: a `Timeline` in, a `FailoverResult` out. Pure functions: no clock, no I/O.

Phases come from ground-truth events where the backend has them (localcloud), otherwise from what
the probes saw (real AWS). All times are epoch seconds; `since_fault_s` is relative to the fault.

`analyze` reads the samples in one streamed pass (a spooled timeline stays on disk): per-probe state
machines, fed in sequence order, and one for the followed probes together, fed in time order.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from gameday.timeline import Event, Outcome, Sample, Timeline

# Ground-truth event kind -> the phase it marks; the first such event at or after the fault wins.
EVENT_PHASES: Mapping[str, str] = {
    "fault.inject": "fault",
    "localcloud.spot.interrupted": "interrupted",  # a Spot notice's lead ended: the instance is gone
    "localcloud.asg.unhealthy": "detection",
    "localcloud.asg.launch": "control_plane",
    "localcloud.eip.associated": "control_plane",
    "localcloud.route53.change": "control_plane",
    "localcloud.instance.booted": "booted",
    "localcloud.eip.routed": "routed",
    "localcloud.eni.routed": "routed",  # an attached network interface's address reaches its new instance
}
# A health check's decision (not yet published to DNS) that its endpoint failed: ground truth of the
# DNS health-check detector, which a stack may have beside (and slower than) its ASG's own detection.
HEALTH_DECISION = "localcloud.route53.health"
# Reported in this order; interrupted/health_check/booted/routed only when their events exist, dns_* once
# per DNS probe.
PHASE_ORDER = ("fault", "interrupted", "detection", "health_check", "control_plane", "booted", "routed",
               "dns_first", "dns_all", "first_good", "stable")
CLIENT_KINDS = frozenset({"http", "http_keepalive", "health", "tcp"})
_EPSILON = 1e-6
REORDER_SAMPLES = 256  # a probe's samples complete out of order by fewer than this many (concurrent sends)
REORDER_S = 60.0  # the followed probes' samples are put in time order within this horizon


@dataclass(frozen=True)
class Phase:
    name: str
    at: float | None  # None: it did not happen (or nothing could see it)
    since_fault_s: float | None
    source: str  # "event:<kind>", "probe:<name>", "fault_at", or "" when not observed


@dataclass(frozen=True)
class OutageWindow:
    """From the first failed sample to the next good one."""

    start_at: float
    end_at: float | None  # None: still failing at the end of the run
    duration_s: float  # to end_at; when still open, to the last sample (a lower bound)
    since_fault_s: float
    probes: tuple[str, ...]
    samples: int  # failed samples inside
    outcomes: dict[str, int]

    @property
    def open(self) -> bool:
        return self.end_at is None


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class ProbeSummary:
    """One probe's view of the run. Counts and availability are over the watch (from the fault on)."""

    probe: str
    kind: str
    target: str
    samples: int  # whole run
    samples_after_fault: int
    errors_before_fault: int  # non-zero means the steady state was not steady
    errors_by_outcome: dict[str, int]
    availability: float  # 0.0 when nothing was sampled after the fault
    first_error_at: float | None
    first_good_at: float | None  # first good sample after the first error (or after the fault)
    flaps: int  # outages after the first one
    outage_windows: tuple[OutageWindow, ...]
    latency: Percentiles  # answered samples (errors with an answer included), whole run
    latency_in_window: Percentiles  # the same, from the fault to stable (or the end of the run)
    lateness_p99_s: float | None  # send lateness: how far the probe itself can be trusted
    served_by: tuple[str, ...]  # identities seen, in order of first appearance
    peers: tuple[str, ...]  # addresses connected to / answered from, in order of first appearance


@dataclass(frozen=True)
class DnsConvergence:
    """When one resolver's answers reflected the new target: first answer, then every answer."""

    probe: str
    target: str
    before: tuple[str, ...]  # answers seen before the fault
    after: tuple[str, ...]  # answers at the end of the run (or the expected target, when given)
    changed: bool
    first_at: float | None
    all_at: float | None
    first_since_fault_s: float | None
    all_since_fault_s: float | None
    # An answer that left and came back (a replaced node re-claiming its address): the end state equals the
    # start, yet the answers changed. `left` are the addresses that were in every answer before the fault.
    left: tuple[str, ...] = ()
    left_since_fault_s: float | None = None
    returned_since_fault_s: float | None = None

    @property
    def returned(self) -> bool:
        return self.returned_since_fault_s is not None


@dataclass(frozen=True)
class FailoverResult:
    fault_at: float
    probe: str | None  # the probe the client-facing phases follow (None: all client probes)
    stable_window_s: float
    phases: tuple[Phase, ...]
    failover_time_s: float | None  # fault -> stable
    recovered: bool
    outage_windows: tuple[OutageWindow, ...]  # union over the followed probes
    error_count: int  # errors of the followed probes from the fault on
    availability: float  # good share of the followed probes' samples from the fault on (0.0 if none)
    probes: tuple[ProbeSummary, ...]
    dns: tuple[DnsConvergence, ...]

    def phase(self, name: str, source: str | None = None) -> Phase | None:
        return next((p for p in self.phases if p.name == name and source in (None, p.source)), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyze(timeline: Timeline, *, fault_at: float, probe: str | None = None, stable_window_s: float = 2.0,
            dns_target: Collection[str] | None = None) -> FailoverResult:
    """Phases, outage windows and per-probe summaries of `timeline` around the fault at `fault_at`.

    `probe` picks the probe whose samples decide first_good and stable (default: every HTTP, health
    and TCP probe together: any of them failing breaks stability). `dns_target`, when known, is the
    answer set the DNS records should converge to; otherwise the answers at the end of the run."""
    events = timeline.snapshot()[1]
    stats = timeline.stats()
    if probe is not None and probe not in stats:
        raise ValueError(f"no samples from probe {probe!r}; probes: {sorted(stats)}")
    kinds = {name: st.kind for name, st in stats.items()}
    followed = _followed_names(kinds, probe)
    states = {name: _ProbeState(name, st.kind, st.target, fault_at) for name, st in stats.items()}
    merged = _MergedState(fault_at, stable_window_s)
    order = {name: i for i, name in enumerate(sorted(stats))}
    pending: list[tuple[float, int, int, Sample]] = []  # the followed probes' samples, put in time order
    newest = -math.inf
    for sample in _in_seq_order(timeline.iter_samples(), states):
        if sample.probe not in followed:
            continue
        heapq.heappush(pending, (sample.at, order[sample.probe], sample.seq, sample))
        newest = max(newest, sample.at)
        while pending and (pending[0][0] < newest - REORDER_S or len(pending) > 50 * REORDER_SAMPLES):
            merged.feed(heapq.heappop(pending)[3])
    while pending:
        merged.feed(heapq.heappop(pending)[3])
    first_good, stable = merged.first_good, merged.stable
    window_end = stable if stable is not None else math.inf
    dns = tuple(_dns_from_answered(name, states[name].target, states[name].answered, fault_at, stable_window_s,
                                   dns_target)
                for name in sorted(states) if states[name].kind == "dns")
    noticed = min(((st.first_503_at, name) for name, st in states.items()
                   if st.kind == "health" and st.first_503_at is not None), default=None)
    detection = (noticed[0], f"probe:{noticed[1]}") if noticed else (None, "")
    phases = _phases(events, kinds, fault_at, dns, first_good, stable, probe, detection,
                     expect_dns_change=dns_target is not None)
    summaries = tuple(states[name].summary(window_end) for name in sorted(states))
    return FailoverResult(
        fault_at=fault_at, probe=probe, stable_window_s=stable_window_s, phases=phases,
        failover_time_s=None if stable is None else stable - fault_at, recovered=stable is not None,
        outage_windows=_union(w for s in summaries if s.probe in followed for w in s.outage_windows),
        error_count=merged.errors,
        availability=(merged.watched - merged.errors) / merged.watched if merged.watched else 0.0,
        probes=summaries, dns=dns)


def infer_fault_at(timeline: Timeline) -> tuple[float, str] | None:
    """The fault time when none is given: the first `fault.inject` event, else the first error."""
    injected = timeline.events_of("fault.inject")
    if injected:
        return injected[0].at, "event:fault.inject"
    first = min((s for s in timeline.iter_samples() if not s.good), key=lambda s: s.at, default=None)
    if first is not None:
        return first.at, f"first error (probe:{first.probe})"
    return None


def percentiles(values: Iterable[float]) -> Percentiles:
    """Nearest-rank percentiles (every reported value is one that was measured)."""
    ordered = sorted(values)
    if not ordered:
        return Percentiles(0, None, None, None, None)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return Percentiles(len(ordered), rank(50), rank(95), rank(99), ordered[-1])


# --- client-facing phases ---

def _group(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.probe, []).append(sample)
    return {name: sorted(group, key=lambda s: s.seq) for name, group in grouped.items()}


def _followed(by_probe: Mapping[str, list[Sample]], probe: str | None) -> list[str]:
    return _followed_names({name: group[0].kind for name, group in by_probe.items()}, probe)


def _followed_names(kinds: Mapping[str, str], probe: str | None) -> list[str]:
    if probe is not None:
        return [probe]
    clients = [name for name, kind in kinds.items() if kind in CLIENT_KINDS]
    return sorted(clients or kinds)


def _first_error_index(samples: Sequence[Sample], fault_at: float) -> int | None:
    return next((i for i, s in enumerate(samples) if s.at >= fault_at - _EPSILON and not s.good), None)


def _first_good(samples: Sequence[Sample], fault_at: float) -> float | None:
    first_error = _first_error_index(samples, fault_at)
    after = samples[first_error:] if first_error is not None else samples
    return next((s.at for s in after if s.good and s.at >= fault_at - _EPSILON), None)


def _stable(samples: Sequence[Sample], fault_at: float, window_s: float) -> float | None:
    """Start of the first run of good samples lasting `window_s` with no error. When the fault
    caused errors, the run must start after the first of them: a system that kept serving for a
    while before it broke was not yet failed over."""
    first_error = _first_error_index(samples, fault_at)
    start = first_error + 1 if first_error is not None else 0
    run_start: float | None = None
    for sample in samples[start:]:
        if sample.at < fault_at - _EPSILON:
            continue
        if not sample.good:
            run_start = None
        elif run_start is None:
            run_start = sample.at
        if run_start is not None and sample.at - run_start >= window_s - _EPSILON:
            return run_start
    return None


def _phases(events: Sequence[Event], kinds: Mapping[str, str], fault_at: float,
            dns: Sequence[DnsConvergence], first_good: float | None, stable: float | None,
            probe: str | None, detection: tuple[float | None, str],
            expect_dns_change: bool = False) -> tuple[Phase, ...]:
    def phase(name: str, at: float | None, source: str) -> Phase:
        return Phase(name, at, None if at is None else at - fault_at, source if at is not None else "")

    observed: dict[str, Phase] = {}
    for event in sorted(events, key=lambda e: e.at):
        name = EVENT_PHASES.get(event.kind)
        if name is None or name == "fault" or name in observed or event.at < fault_at - _EPSILON:
            continue
        observed[name] = phase(name, event.at, f"event:{event.kind}")
    decided = [e for e in events if e.kind == HEALTH_DECISION and e.at >= fault_at - _EPSILON
               and e.detail.get("healthy") is False and e.detail.get("published") is False]
    if decided:
        first = min(decided, key=lambda e: e.at)
        observed["health_check"] = phase("health_check", first.at, f"event:{HEALTH_DECISION}:{first.subject}")
    injected = any(EVENT_PHASES.get(e.kind) == "fault" and abs(e.at - fault_at) < 1e-3 for e in events)
    observed["fault"] = phase("fault", fault_at, "event:fault.inject" if injected else "fault_at")
    if "detection" not in observed:  # without events: a health endpoint's first 503 after the fault
        observed["detection"] = phase("detection", *detection)
    observed.setdefault("control_plane", phase("control_plane", None, ""))
    followed = f"probe:{probe}" if probe else "probes:" + ",".join(_followed_names(kinds, None))
    observed["first_good"] = phase("first_good", first_good, followed)
    observed["stable"] = phase("stable", stable, followed)
    ordered: list[Phase] = []
    for name in PHASE_ORDER:
        if name == "dns_first":  # a pair per resolver probe whose answer moved (or was meant to)
            ordered += [Phase(kind, at, None if at is None else at - fault_at, f"probe:{c.probe}") for c in dns
                        if (c.changed and not c.returned) or expect_dns_change
                        for kind, at in (("dns_first", c.first_at), ("dns_all", c.all_at))]
        elif name in observed:
            ordered.append(observed[name])
    return tuple(ordered)


# --- per probe ---

def _windows(samples: Sequence[Sample], fault_at: float) -> list[OutageWindow]:
    windows: list[OutageWindow] = []
    errors: list[Sample] = []
    for sample in [*samples, None]:
        if sample is not None and not sample.good:
            errors.append(sample)
            continue
        if errors:
            start = errors[0].at
            end = sample.at if sample is not None else None
            duration = (end if end is not None else errors[-1].at) - start
            windows.append(OutageWindow(start, end, duration, start - fault_at, (errors[0].probe,),
                                        len(errors), dict(Counter(s.outcome.value for s in errors))))
            errors = []
    return windows


def _union(windows: Iterable[OutageWindow]) -> tuple[OutageWindow, ...]:
    """Overlapping windows of several probes become one: some client was failing throughout."""
    merged: list[OutageWindow] = []
    for w in sorted(windows, key=lambda w: w.start_at):
        last = merged[-1] if merged else None
        if last is None or (last.end_at is not None and w.start_at > last.end_at):
            merged.append(w)
            continue
        end = None if last.end_at is None or w.end_at is None else max(last.end_at, w.end_at)
        reach = max(last.start_at + last.duration_s, w.start_at + w.duration_s)
        merged[-1] = OutageWindow(last.start_at, end, (end if end is not None else reach) - last.start_at,
                                  last.since_fault_s, tuple(sorted({*last.probes, *w.probes})),
                                  last.samples + w.samples, dict(Counter(last.outcomes) + Counter(w.outcomes)))
    return tuple(merged)


class _Answered(Protocol):
    @property
    def at(self) -> float: ...

    @property
    def answers(self) -> tuple[str, ...]: ...


def _dns_convergence(name: str, samples: Sequence[Sample], fault_at: float, window_s: float,
                     expected: Collection[str] | None) -> DnsConvergence:
    return _dns_from_answered(name, samples[0].target, [s for s in samples if s.outcome is Outcome.OK], fault_at,
                              window_s, expected)


def _dns_from_answered(name: str, target: str, answered: Sequence[_Answered], fault_at: float, window_s: float,
                       expected: Collection[str] | None) -> DnsConvergence:
    """A DNS probe's convergence from its answered samples (in sequence order)."""
    before = {a for s in answered if s.at < fault_at - _EPSILON for a in s.answers}
    if expected is not None:
        after = set(expected)
    else:  # the union over the last stable window, since one weighted answer is only a sample of the set
        since = max(fault_at, answered[-1].at - window_s) if answered else fault_at
        after = {a for s in answered if s.at >= since - _EPSILON for a in s.answers}
    added, removed = after - before, before - after
    watched = [s for s in answered if s.at >= fault_at - _EPSILON]

    def partly(s: _Answered) -> bool:
        return bool(added & set(s.answers)) if added else not removed & set(s.answers)

    def fully(s: _Answered) -> bool:
        return partly(s) and not removed & set(s.answers)

    changed = bool(added or removed)
    first_at = next((s.at for s in watched if partly(s)), None) if changed else None
    all_at = None
    if changed and watched and fully(watched[-1]):
        suffix = len(watched)
        while suffix > 0 and fully(watched[suffix - 1]):
            suffix -= 1
        all_at = watched[suffix].at
    left: tuple[str, ...] = ()
    left_at: float | None = None
    back_at: float | None = None
    if not changed:
        left, left_at, back_at = _left_and_back(answered, fault_at)
    return DnsConvergence(name, target, tuple(sorted(before)), tuple(sorted(after)),
                          changed or back_at is not None, first_at, all_at,
                          None if first_at is None else first_at - fault_at,
                          None if all_at is None else all_at - fault_at, left,
                          None if left_at is None else left_at - fault_at,
                          None if back_at is None else back_at - fault_at)


def _left_and_back(answered: Sequence[_Answered], fault_at: float) -> tuple[tuple[str, ...], float | None,
                                                                             float | None]:
    """Addresses in every answer before the fault that were missing from at least two answers in a row after
    it and then came back: (those addresses, the first answer without them, the first with them all again).
    Only addresses in *every* earlier answer count: a weighted answer names one address, so one missing
    from a few answers is chance, not a change."""
    earlier = [set(s.answers) for s in answered if s.at < fault_at - _EPSILON]
    steady = set.intersection(*earlier) if earlier else set()
    watched = [s for s in answered if s.at >= fault_at - _EPSILON]
    missing = [bool(steady - set(s.answers)) for s in watched]
    start = next((i for i in range(len(missing) - 1) if missing[i] and missing[i + 1]), None)
    if not steady or start is None:
        return (), None, None
    gone = set().union(*(steady - set(s.answers) for s in watched[start:start + 2]))
    back = next((s.at for s in watched[start:] if gone <= set(s.answers)), None)
    if back is None:
        return (), None, None
    return tuple(sorted(gone)), watched[start].at, back


# --- the streamed pass ---

def _in_seq_order(samples: Iterable[Sample], states: Mapping[str, _ProbeState]) -> Iterable[Sample]:
    """Feed each probe's state machine in sequence order (a bounded reorder per probe); yield what was fed."""
    for sample in samples:
        yield from states[sample.probe].push(sample)
    for state in states.values():
        yield from state.drain()


@dataclass(slots=True)
class _Answer:
    at: float
    answers: tuple[str, ...]


class _FirstGood:
    """The first good sample at or after the fault, after the first error after the fault when there is one."""

    def __init__(self, fault_at: float) -> None:
        self.fault_at = fault_at - _EPSILON
        self.errored = False
        self.good_at: float | None = None  # before any error
        self.good_after_error: float | None = None

    def feed(self, sample: Sample) -> bool:
        """True when `sample` is the first error after the fault."""
        after = sample.at >= self.fault_at
        if not self.errored:
            if after and not sample.good:
                self.errored = True
                return True
            if after and sample.good and self.good_at is None:
                self.good_at = sample.at
        elif after and sample.good and self.good_after_error is None:
            self.good_after_error = sample.at
        return False

    @property
    def at(self) -> float | None:
        return self.good_after_error if self.errored else self.good_at


@dataclass
class _MergedState:
    """The followed probes together, in time order: first good, stable, errors from the fault on."""

    fault_at: float
    window_s: float
    watched: int = 0
    errors: int = 0
    _first: _FirstGood = field(init=False)
    _clean: float | None = field(default=None, init=False)  # stable, should no error follow the fault
    _clean_start: float | None = field(default=None, init=False)
    _run_start: float | None = field(default=None, init=False)
    _stable: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._first = _FirstGood(self.fault_at)

    def feed(self, sample: Sample) -> None:
        after = sample.at >= self.fault_at - _EPSILON
        if after:
            self.watched += 1
            self.errors += not sample.good
        if self._first.feed(sample) or not after:
            return
        if not self._first.errored:  # all good so far: a stable run from the first good sample
            if self._clean_start is None:
                self._clean_start = sample.at
            if self._clean is None and sample.at - self._clean_start >= self.window_s - _EPSILON:
                self._clean = self._clean_start
            return
        if self._stable is not None:
            return
        if not sample.good:
            self._run_start = None
        elif self._run_start is None:
            self._run_start = sample.at
        if self._run_start is not None and sample.at - self._run_start >= self.window_s - _EPSILON:
            self._stable = self._run_start

    @property
    def first_good(self) -> float | None:
        return self._first.at

    @property
    def stable(self) -> float | None:
        return self._stable if self._first.errored else self._clean


class _ProbeState:
    """One probe's summary, built sample by sample in sequence order."""

    def __init__(self, name: str, kind: str, target: str, fault_at: float) -> None:
        self.name, self.kind, self.target, self.fault_at = name, kind, target, fault_at
        self._heap: list[tuple[int, int, Sample]] = []
        self._arrived = 0
        self.count = self.watched = self.errors = self.errors_after = 0
        self.by_outcome: Counter[str] = Counter()
        self.first_error_at: float | None = None
        self.first_503_at: float | None = None
        self.first = _FirstGood(fault_at)
        self.windows: list[OutageWindow] = []
        self._open: tuple[float, float, int, Counter[str]] | None = None  # start, last error, count, outcomes
        self.latency_at, self.latency, self.lateness = array("d"), array("d"), array("d")
        self.served_by: dict[str, None] = {}
        self.peers: dict[str, None] = {}
        self.answered: list[_Answer] = []
        self._answer_sets: dict[tuple[str, ...], tuple[str, ...]] = {}

    def push(self, sample: Sample) -> list[Sample]:
        heapq.heappush(self._heap, (sample.seq, self._arrived, sample))
        self._arrived += 1
        fed = []
        while len(self._heap) > REORDER_SAMPLES:
            fed.append(self._feed(heapq.heappop(self._heap)[2]))
        return fed

    def drain(self) -> list[Sample]:
        fed = [self._feed(heapq.heappop(self._heap)[2]) for _ in range(len(self._heap))]
        self._close(None)
        return fed

    def _feed(self, s: Sample) -> Sample:
        after = s.at >= self.fault_at - _EPSILON
        self.count += 1
        self.errors += not s.good
        self.first.feed(s)
        if after:
            self.watched += 1
            if not s.good:
                self.errors_after += 1
                self.by_outcome[s.outcome.value] += 1
                if self.first_error_at is None:
                    self.first_error_at = s.at
            if s.status == 503 and self.first_503_at is None:
                self.first_503_at = s.at
        if s.good:
            self._close(s.at)
        elif self._open is None:
            self._open = (s.at, s.at, 1, Counter({s.outcome.value: 1}))
        else:
            start, _, n, outcomes = self._open
            outcomes[s.outcome.value] += 1
            self._open = (start, s.at, n + 1, outcomes)
        if s.latency_s is not None:
            self.latency_at.append(s.at)
            self.latency.append(s.latency_s)
        self.lateness.append(max(0.0, s.lateness_s))
        if s.served_by:
            self.served_by.setdefault(s.served_by)
        if s.peer:
            self.peers.setdefault(s.peer)
        if self.kind == "dns" and s.outcome is Outcome.OK:
            answers = self._answer_sets.setdefault(s.answers, s.answers)
            self.answered.append(_Answer(s.at, answers))
        return s

    def _close(self, end: float | None) -> None:
        if self._open is None:
            return
        start, last, n, outcomes = self._open
        self._open = None
        if end is None or end >= self.fault_at - _EPSILON:
            self.windows.append(OutageWindow(start, end, (end if end is not None else last) - start,
                                             start - self.fault_at, (self.name,), n, dict(outcomes)))

    def summary(self, window_end: float) -> ProbeSummary:
        low = self.fault_at - _EPSILON
        return ProbeSummary(
            probe=self.name, kind=self.kind, target=self.target, samples=self.count,
            samples_after_fault=self.watched, errors_before_fault=self.errors - self.errors_after,
            errors_by_outcome=dict(self.by_outcome),
            availability=(self.watched - self.errors_after) / self.watched if self.watched else 0.0,
            first_error_at=self.first_error_at, first_good_at=self.first.at,
            flaps=max(0, len(self.windows) - 1), outage_windows=tuple(self.windows),
            latency=percentiles(self.latency),
            latency_in_window=percentiles(v for at, v in zip(self.latency_at, self.latency, strict=True)
                                          if low <= at <= window_end),
            lateness_p99_s=percentiles(self.lateness).p99,
            served_by=tuple(self.served_by), peers=tuple(self.peers))
