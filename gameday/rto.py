"""An RTO that must hold, in AWS Resilience Hub's terms, and the outage windows told in one line.

Pure functions of samples: no clock, no I/O. docs/report.md defines the rule; in short, the success rate at a
sample is the good share of the primary probe's samples sent in the `window_s` from it on; the target is
*reached* at the first sample after the first failure where that rate is at least `target`, and *held* from the
first sample after which it never falls below again, to the end of the watch. The RTO holds when the target is
reached within the RTO and never lost afterwards: a relapse fails, named by its first failed sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from gameday.errors import ConfigError
from gameday.timeline import Sample

DEFAULT_TARGET = 0.99
# Long enough that a few good answers between two bursts of errors are not a recovery, short enough to stay
# inside the stable-then-hold part of a watch (stable window 2 s + hold 3 s).
DEFAULT_WINDOW_S = 5.0
_EPSILON = 1e-6


@dataclass(frozen=True)
class RtoRule:
    """What recovered means: at least `target` of the samples good over any `window_s` from then on."""

    target: float = DEFAULT_TARGET
    window_s: float = DEFAULT_WINDOW_S

    def __post_init__(self) -> None:
        if isinstance(self.target, bool) or not isinstance(self.target, int | float) or not 0 < self.target <= 1:
            raise ConfigError(f"RTO success-rate target must be > 0 and <= 1, got {self.target!r}")
        if not isinstance(self.window_s, int | float) or not math.isfinite(self.window_s) or self.window_s <= 0:
            raise ConfigError(f"RTO window must be > 0 s, got {self.window_s!r}")


@dataclass(frozen=True)
class RtoReading:
    """How the primary probe's success rate went from the fault to the end of the watch (seconds since the fault)."""

    probe: str
    rto_s: float
    target: float
    window_s: float
    watched_s: float  # the fault to the end of the watch (the revert)
    reached_s: float | None  # first time the target was reached after the fault's first failure
    held_s: float | None  # from here to the end of the watch the rate never fell below the target
    relapse_s: float | None  # first failed sample of the first dip below the target after it was reached
    lowest_after_reach: float | None  # the lowest rate after the target was first reached

    @property
    def holds(self) -> bool:
        return self.held_s is not None and self.held_s <= self.rto_s + _EPSILON and self.relapse_s is None

    def failure(self) -> str | None:
        """Why the RTO did not hold, in one clause; None when it held."""
        rate = f"{self.target * 100:g} % success over {self.window_s:g} s"
        if self.reached_s is None:
            return f"{self.probe} never reached {rate} within the {self.watched_s:.1f} s watched"
        if self.relapse_s is not None:
            lowest = f" (down to {self.lowest_after_reach * 100:.0f} %)" if self.lowest_after_reach is not None else ""
            held = (f", held again from +{self.held_s:.2f} s" if self.held_s is not None
                    else ", and was below it at the end of the watch")
            return (f"{self.probe} reached {rate} at +{self.reached_s:.2f} s but relapsed at +{self.relapse_s:.2f} s "
                    f"after the fault{lowest}{held}")
        if self.held_s is None:
            return f"{self.probe} was below {rate} at the end of the watch (+{self.watched_s:.1f} s)"
        if self.held_s > self.rto_s + _EPSILON:
            return f"{self.probe} reached {rate} only at +{self.held_s:.2f} s, over the {self.rto_s:.1f} s RTO"
        return None

    def summary(self) -> str:
        """One line: held or not, and when."""
        why = self.failure()
        if why is not None:
            return f"RTO {self.rto_s:.1f} s not held: {why}"
        return (f"RTO {self.rto_s:.1f} s held: {self.target * 100:g} % success over {self.window_s:g} s from "
                f"+{self.held_s:.2f} s to the end of the watch (+{self.watched_s:.1f} s)")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "holds": self.holds, "summary": self.summary()}


def evaluate_rto(samples: Sequence[Sample], *, fault_at: float, end_at: float, rto_s: float,
                 rule: RtoRule = RtoRule()) -> RtoReading:
    """The RTO reading of one probe's `samples` between the fault and the end of the watch (`end_at`)."""
    watched = sorted((s for s in samples if fault_at - _EPSILON <= s.at <= end_at + _EPSILON), key=lambda s: s.at)
    rates = _forward_rates(watched, end_at, rule.window_s)
    first_failure = next((i for i, s in enumerate(watched) if not s.good), None)
    start = 0 if first_failure is None else first_failure + 1
    reached = next((i for i in range(start, len(watched)) if rates[i] >= rule.target - _EPSILON), None)
    held = _held_from(rates, start, rule.target)
    relapse: float | None = None
    lowest: float | None = None
    if reached is not None:
        lowest = min(rates[reached:])
        dip = next((i for i in range(reached, len(watched)) if rates[i] < rule.target - _EPSILON), None)
        if dip is not None:
            relapse = next(s.at for s in watched[dip:] if not s.good)

    def since(index: int | None) -> float | None:
        return None if index is None else round(max(0.0, watched[index].at - fault_at), 6)

    return RtoReading(probe=watched[0].probe if watched else (samples[0].probe if samples else ""), rto_s=rto_s,
                      target=rule.target, window_s=rule.window_s, watched_s=round(end_at - fault_at, 6),
                      reached_s=since(reached), held_s=since(held),
                      relapse_s=None if relapse is None else round(relapse - fault_at, 6), lowest_after_reach=lowest)


def _forward_rates(samples: Sequence[Sample], end_at: float, window_s: float) -> list[float]:
    """Per sample: the good share of the samples sent in [its time, its time + window), cut at `end_at`."""
    rates: list[float] = []
    good_prefix = [0]
    for s in samples:
        good_prefix.append(good_prefix[-1] + s.good)
    stop = 0
    for i, s in enumerate(samples):
        until = min(s.at + window_s, end_at + _EPSILON)
        stop = max(stop, i + 1)
        while stop < len(samples) and samples[stop].at < until:
            stop += 1
        rates.append((good_prefix[stop] - good_prefix[i]) / (stop - i))
    return rates


def _held_from(rates: Sequence[float], start: int, target: float) -> int | None:
    """The first index from `start` after which every rate meets the target; None when the last one does not."""
    held: int | None = None
    for i in range(len(rates) - 1, start - 1, -1):
        if rates[i] < target - _EPSILON:
            break
        held = i
    return held


@dataclass(frozen=True)
class OutageSummary:
    """The outage windows in one line: how many, how long together, the longest, the first and the last."""

    count: int
    total_s: float
    longest_s: float
    first_since_fault_s: float | None
    last_since_fault_s: float | None
    still_open: bool  # the last one had not ended when the run did (its length is a lower bound)

    def line(self) -> str:
        first, last = (max(0.0, t or 0.0) for t in (self.first_since_fault_s, self.last_since_fault_s))
        if not self.count:
            return "No outage window after the fault."
        if self.count == 1:
            return (f"One outage window: {self.total_s:.2f} s from +{first:.2f} s"
                    + (" (still open at the end)." if self.still_open else "."))
        return (f"{self.count} outage windows, {self.total_s:.2f} s in all: longest {self.longest_s:.2f} s, first "
                f"from +{first:.2f} s, last from +{last:.2f} s"
                + (" (still open at the end)" if self.still_open else "") + "; each is listed in report.json.")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}


def summarize_outages(windows: Sequence[Any]) -> OutageSummary:
    """`windows`: `analysis.OutageWindow`s, or their report.json dicts."""
    spans = [(_get(w, "since_fault_s"), _get(w, "duration_s"), _get(w, "end_at") is None) for w in windows]
    spans.sort(key=lambda span: span[0])
    return OutageSummary(count=len(spans), total_s=round(sum(d for _, d, _ in spans), 6),
                         longest_s=max((d for _, d, _ in spans), default=0.0),
                         first_since_fault_s=spans[0][0] if spans else None,
                         last_since_fault_s=spans[-1][0] if spans else None,
                         still_open=bool(spans) and spans[-1][2])


def _get(window: Any, key: str) -> Any:
    return window[key] if isinstance(window, dict) else getattr(window, key)
