"""Measured vs predicted, phase by phase: which phase took longer than the stack's configuration implies.

Predicted phases are durations; summed in order they give the predicted time of the measured phase
each one ends at (`PredictedPhase.ends_at`). Both sides are then cut into the same segments
(previous measured phase -> this one), so a slow segment is computed, never written per stack.
Work the prediction leaves out on purpose but the backend reports (the user data's run time) is a
measured-only phase: it explains time inside a segment instead of counting as excess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from gameday.analysis import FailoverResult
from gameday.model import Prediction
from gameday.timeline import Event

# Measured phase names a predicted phase may end at (gameday.analysis), in the order they happen.
MEASURED = ("interrupted", "detection", "health_check", "control_plane", "booted", "routed", "dns_first", "dns_all",
            "first_good", "stable")
# Ground-truth event pairs that time work the model leaves out: name -> (start kind, end kind).
MEASURED_ONLY = {"user_data": ("localcloud.userdata.start", "localcloud.userdata.exit")}
# A segment is slow when it ran longer than the predicted high by more than this (s) or this share.
TOLERANCE_S = 0.5
TOLERANCE_SHARE = 0.2


@dataclass(frozen=True)
class MeasuredOnly:
    name: str
    since_fault_s: float
    duration_s: float


@dataclass(frozen=True)
class PhaseCheck:
    phase: str  # the measured phase the segment ends at
    predicted_phases: tuple[str, ...]  # the predicted phases inside the segment
    measured_s: float | None  # since the fault (None: never reached)
    predicted_s: float  # since the fault (mean)
    measured_segment_s: float | None  # since the previous phase of the table
    predicted_segment_s: float
    predicted_segment_high_s: float
    explained_s: float  # measured-only work inside the segment (e.g. the user data)
    excess_s: float | None  # measured - explained - predicted high; > tolerance = slow
    slow: bool

    @property
    def verdict(self) -> str:
        if self.measured_s is None:
            return "not reached"
        return "slower than configured" if self.slow else "as configured"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def measured_phases(failover: FailoverResult) -> dict[str, float]:
    """Measured phase -> seconds since the fault; DNS phases over every resolver (first: earliest,
    all: the last resolver to converge)."""
    seen: dict[str, list[float]] = {}
    for p in failover.phases:
        if p.since_fault_s is not None:
            seen.setdefault(p.name, []).append(p.since_fault_s)
    return {name: (min(v) if name == "dns_first" else max(v) if name == "dns_all" else v[0])
            for name, v in seen.items()}


def measured_only(events: Iterable[Event], fault_at: float) -> list[MeasuredOnly]:
    ordered = sorted(events, key=lambda e: e.at)
    found: list[MeasuredOnly] = []
    for name, (start_kind, end_kind) in MEASURED_ONLY.items():
        starts = {e.subject: e.at for e in ordered if e.kind == start_kind and e.at >= fault_at}
        for event in ordered:
            if event.kind == end_kind and event.subject in starts:
                start = starts.pop(event.subject)
                found.append(MeasuredOnly(name, start - fault_at, event.at - start))
    return sorted(found, key=lambda m: m.since_fault_s)


def compare(failover: FailoverResult, prediction: Prediction, events: Sequence[Event] = ()) -> list[PhaseCheck]:
    extras = measured_only(events, failover.fault_at)
    ends = [p.ends_at or (p.name if p.name in MEASURED else "") for p in prediction.phases]
    if not any(ends):  # nothing to cut it by (e.g. a per-request penalty): only the totals compare
        return []
    checks: list[PhaseCheck] = []
    pending: list[str] = []
    cum = cum_high = 0.0
    anchor = _Anchor(0.0, 0.0, 0.0)  # the last row that was measured: segments start there
    for predicted, end in zip(prediction.phases, ends, strict=True):
        pending.append(predicted.name)
        cum, cum_high = cum + predicted.mean_s, cum_high + predicted.high_s
        if end:
            checks.append(_check(end, tuple(pending), measured_at(failover, end), anchor, cum, cum_high, extras))
            anchor = _Anchor.after(checks[-1], cum, cum_high) or anchor
            pending = []
    if checks[-1].phase != "stable":  # the tail: serving again after the last modelled step
        checks.append(_check("stable", tuple(pending), measured_at(failover, "stable"), anchor, cum, cum_high, extras))
    return checks


def measured_at(failover: FailoverResult, name: str) -> float | None:
    """Seconds since the fault of a measured phase: `dns_all`, `dns_all@dns:caching` (one resolver's),
    or `dns_<resolver>` (shorthand for that resolver's dns_all)."""
    if "@" in name:
        phase_name, probe = name.split("@", 1)
        found = failover.phase(phase_name, f"probe:{probe}")
        return found.since_fault_s if found else None
    if name not in MEASURED and name.startswith("dns_"):
        return measured_at(failover, f"dns_all@dns:{name.removeprefix('dns_')}")
    return measured_phases(failover).get(name)


@dataclass(frozen=True)
class _Anchor:
    at: float
    cum: float
    cum_high: float

    @classmethod
    def after(cls, check: PhaseCheck, cum: float, cum_high: float) -> _Anchor | None:
        return None if check.measured_s is None else cls(check.measured_s, cum, cum_high)


def _check(name: str, predicted_phases: tuple[str, ...], at: float | None, anchor: _Anchor, cum: float,
           cum_high: float, extras: Sequence[MeasuredOnly]) -> PhaseCheck:
    seg, seg_high = cum - anchor.cum, cum_high - anchor.cum_high
    if at is None:
        return PhaseCheck(name, predicted_phases, None, cum, None, seg, seg_high, 0.0, None, False)
    segment = at - anchor.at
    explained = sum(_overlap(m, anchor.at, at) for m in extras)
    excess = segment - explained - seg_high
    # Slow: this segment overran its configuration, and the phase was late overall (an early phase
    # before it does not make a later one "slow" when users saw no delay).
    late = at - sum(_overlap(m, 0.0, at) for m in extras) - cum_high
    slow = min(excess, late) > max(TOLERANCE_S, TOLERANCE_SHARE * seg_high)
    return PhaseCheck(name, predicted_phases, at, cum, segment, seg, seg_high, explained, excess, slow)


def _overlap(work: MeasuredOnly, start: float, end: float) -> float:
    return max(0.0, min(end, work.since_fault_s + work.duration_s) - max(start, work.since_fault_s))


def took_the_time(checks: Sequence[PhaseCheck]) -> PhaseCheck | None:
    """The phase to name when a budget is blown: the slowest against its configuration, else the longest."""
    slow = [c for c in checks if c.slow and c.excess_s is not None]
    if slow:
        return max(slow, key=lambda c: c.excess_s or 0.0)
    timed = [c for c in checks if c.measured_segment_s is not None]
    return max(timed, key=lambda c: c.measured_segment_s or 0.0) if timed else None


def describe(check: PhaseCheck) -> str:
    """One line: 'phase detection (slower than its configuration implies): 12.00 s measured vs 6.50 s predicted'."""
    if check.measured_segment_s is None:
        return f"phase {check.phase} was never reached (predicted at +{check.predicted_s:.2f} s)"
    parts = "+".join(check.predicted_phases) or "nothing modelled"
    slow = " (slower than its configuration implies)" if check.slow else ""
    extra = f", {check.explained_s:.2f} s of it measured-only work" if check.explained_s > 0.005 else ""
    return (f"phase {check.phase}{slow}: {check.measured_segment_s:.2f} s measured vs "
            f"{check.predicted_segment_s:.2f} s predicted ({parts}{extra})")
