"""Failover analysis: a `Timeline` in, a `FailoverResult` out. Pure functions: no clock, no I/O.

Phases come from ground-truth events where the backend has them (localcloud), otherwise from what
the probes saw (real AWS). All times are epoch seconds; `since_fault_s` is relative to the fault.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

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
    samples, events = timeline.snapshot()
    by_probe = _group(samples)
    if probe is not None and probe not in by_probe:
        raise ValueError(f"no samples from probe {probe!r}; probes: {sorted(by_probe)}")
    followed = _followed(by_probe, probe)
    merged = sorted((s for name in followed for s in by_probe[name]), key=lambda s: s.at)
    first_good, stable = _first_good(merged, fault_at), _stable(merged, fault_at, stable_window_s)
    window_end = stable if stable is not None else math.inf
    dns = tuple(_dns_convergence(name, by_probe[name], fault_at, stable_window_s, dns_target)
                for name in sorted(by_probe) if by_probe[name][0].kind == "dns")
    phases = _phases(events, by_probe, fault_at, dns, first_good, stable, probe,
                     expect_dns_change=dns_target is not None)
    summaries = tuple(_summarize(by_probe[name], fault_at, window_end) for name in sorted(by_probe))
    watched = [s for s in merged if s.at >= fault_at - _EPSILON]
    errors = sum(not s.good for s in watched)
    return FailoverResult(
        fault_at=fault_at, probe=probe, stable_window_s=stable_window_s, phases=phases,
        failover_time_s=None if stable is None else stable - fault_at, recovered=stable is not None,
        outage_windows=_union(w for s in summaries if s.probe in followed for w in s.outage_windows),
        error_count=errors, availability=(len(watched) - errors) / len(watched) if watched else 0.0,
        probes=summaries, dns=dns)


def infer_fault_at(timeline: Timeline) -> tuple[float, str] | None:
    """The fault time when none is given: the first `fault.inject` event, else the first error."""
    injected = timeline.events_of("fault.inject")
    if injected:
        return injected[0].at, "event:fault.inject"
    samples, _ = timeline.snapshot()
    errors = [s for s in samples if not s.good]
    if errors:
        first = min(errors, key=lambda s: s.at)
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
    if probe is not None:
        return [probe]
    clients = [name for name, group in by_probe.items() if group[0].kind in CLIENT_KINDS]
    return sorted(clients or by_probe)


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


def _phases(events: Sequence[Event], by_probe: Mapping[str, list[Sample]], fault_at: float,
            dns: Sequence[DnsConvergence], first_good: float | None, stable: float | None,
            probe: str | None, expect_dns_change: bool = False) -> tuple[Phase, ...]:
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
    if "detection" not in observed:
        at, source = _detection_from_health(by_probe, fault_at)
        observed["detection"] = phase("detection", at, source)
    observed.setdefault("control_plane", phase("control_plane", None, ""))
    followed = f"probe:{probe}" if probe else "probes:" + ",".join(_followed(by_probe, None))
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


def _detection_from_health(by_probe: Mapping[str, list[Sample]], fault_at: float) -> tuple[float | None, str]:
    """Without events, a health endpoint turning 503 is the proxy saying it noticed its backend died."""
    noticed = [(s.at, name) for name, group in by_probe.items() if group[0].kind == "health"
               for s in group if s.at >= fault_at - _EPSILON and s.status == 503]
    if not noticed:
        return None, ""
    at, name = min(noticed)
    return at, f"probe:{name}"


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


def _summarize(samples: Sequence[Sample], fault_at: float, window_end: float) -> ProbeSummary:
    first = samples[0]
    watched = [s for s in samples if s.at >= fault_at - _EPSILON]
    errors = [s for s in watched if not s.good]
    windows = [w for w in _windows(samples, fault_at) if w.end_at is None or w.end_at >= fault_at - _EPSILON]
    latencies = [(s.at, s.latency_s) for s in samples if s.latency_s is not None]
    return ProbeSummary(
        probe=first.probe, kind=first.kind, target=first.target, samples=len(samples),
        samples_after_fault=len(watched), errors_before_fault=sum(not s.good for s in samples) - len(errors),
        errors_by_outcome=dict(Counter(s.outcome.value for s in errors)),
        availability=(len(watched) - len(errors)) / len(watched) if watched else 0.0,
        first_error_at=errors[0].at if errors else None, first_good_at=_first_good(samples, fault_at),
        flaps=max(0, len(windows) - 1), outage_windows=tuple(windows),
        latency=percentiles(v for _, v in latencies),
        latency_in_window=percentiles(v for at, v in latencies if fault_at - _EPSILON <= at <= window_end),
        lateness_p99_s=percentiles(max(0.0, s.lateness_s) for s in samples).p99,
        served_by=tuple(dict.fromkeys(s.served_by for s in samples if s.served_by)),
        peers=tuple(dict.fromkeys(s.peer for s in samples if s.peer)))


def _dns_convergence(name: str, samples: Sequence[Sample], fault_at: float, window_s: float,
                     expected: Collection[str] | None) -> DnsConvergence:
    answered = [s for s in samples if s.outcome is Outcome.OK]
    before = {a for s in answered if s.at < fault_at - _EPSILON for a in s.answers}
    if expected is not None:
        after = set(expected)
    else:  # the union over the last stable window, since one weighted answer is only a sample of the set
        since = max(fault_at, answered[-1].at - window_s) if answered else fault_at
        after = {a for s in answered if s.at >= since - _EPSILON for a in s.answers}
    added, removed = after - before, before - after
    watched = [s for s in answered if s.at >= fault_at - _EPSILON]

    def partly(s: Sample) -> bool:
        return bool(added & set(s.answers)) if added else not removed & set(s.answers)

    def fully(s: Sample) -> bool:
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
    return DnsConvergence(name, samples[0].target, tuple(sorted(before)), tuple(sorted(after)),
                          changed or back_at is not None, first_at, all_at,
                          None if first_at is None else first_at - fault_at,
                          None if all_at is None else all_at - fault_at, left,
                          None if left_at is None else left_at - fault_at,
                          None if back_at is None else back_at - fault_at)


def _left_and_back(answered: Sequence[Sample], fault_at: float) -> tuple[tuple[str, ...], float | None,
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
