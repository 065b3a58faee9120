"""Origin failover (a CloudFront origin group, or any front that retries a second origin per request): the
per-request cost from a timeline — how much slower each request got while the fault held, which origin served
it, which errors still reached users (and why) — and the judge of a scenario whose fault users must not see.

Only requests sent between the fault and `settle_s` before its revert count, so none of them straddles
the revert (a request sent just before it may find the primary back and look cheap).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gameday.analysis import FailoverResult
from gameday.scenario import FailoverRun, Headline, Judgement, Verdict
from gameday.timeline import Sample, Timeline

PenaltyJudge = Callable[[FailoverRun, FailoverResult, float], Judgement]


@dataclass(frozen=True)
class Penalty:
    probe: str
    requests: int
    baseline_s: float  # median latency before the fault
    p50_s: float | None  # median extra latency during the fault
    p90_s: float | None
    max_s: float | None
    errors: int
    outcomes: dict[str, int] = field(default_factory=dict)
    served_by: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        if self.p50_s is None:
            return f"{self.probe}: no request completed during the fault ({self.outcomes})"
        origins = ", ".join(f"{k} x{v}" for k, v in sorted(self.served_by.items()))
        return (f"{self.probe}: {self.requests} requests during the fault, penalty p50 {self.p50_s:.3f} s, "
                f"p90 {self.p90_s:.3f} s, max {self.max_s:.3f} s over a {self.baseline_s * 1000:.1f} ms baseline; "
                f"{self.errors} user-visible errors; served by {origins or 'nobody'}")

    def to_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "requests": self.requests, "baseline_s": self.baseline_s, "p50_s": self.p50_s,
                "p90_s": self.p90_s, "max_s": self.max_s, "errors": self.errors, "outcomes": self.outcomes,
                "served_by": self.served_by}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(timeline: Timeline, probe: str, fault_at: float, *, settle_s: float) -> Penalty:
    samples = timeline.samples_of(probe)
    before = [s.latency_s for s in samples if s.sent_at < fault_at and s.good and s.latency_s is not None]
    reverted = [e.at for e in timeline.events_of("fault.revert") if e.at >= fault_at]
    end = (min(reverted) if reverted else max((s.sent_at for s in samples), default=fault_at)) - settle_s
    during: list[Sample] = [s for s in samples if fault_at <= s.sent_at <= end]
    baseline = statistics.median(before) if before else 0.0
    extra = [max(0.0, s.latency_s - baseline) for s in during if s.good and s.latency_s is not None]
    return Penalty(
        probe=probe, requests=len(during), baseline_s=round(baseline, 6),
        p50_s=round(statistics.median(extra), 4) if extra else None,
        p90_s=round(_quantile(extra, 0.9), 4) if extra else None, max_s=round(max(extra), 4) if extra else None,
        errors=sum(1 for s in during if not s.good),
        outcomes=dict(Counter(str(s.outcome) if s.status is None else f"{s.outcome}:{s.status}" for s in during)),
        served_by=dict(Counter(s.served_by or "-" for s in during)))


def penalty_judge(probe: str, settle_s: float) -> PenaltyJudge:
    """Verdict for a scenario whose fault users should never see: no errors on GET, penalty within budget."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        penalty = measure(run.timeline, probe, fault_at, settle_s=settle_s)
        where = f"{run.stack_id} / {run.scenario}"
        if penalty.requests == 0 or penalty.p50_s is None:
            return Judgement(Verdict.FAILED, f"{where}: {penalty.describe()}")
        headline = Headline("per-request penalty p50", penalty.p50_s)
        if penalty.errors:
            return Judgement(Verdict.FAILED, f"{where}: users saw errors; {penalty.describe()}", headline)
        if penalty.p50_s > run.budget_s:
            return Judgement(Verdict.FAILED, f"{where}: per-request penalty {penalty.p50_s:.3f} s is over the "
                             f"{run.budget_s:.1f} s budget; {penalty.describe()}", headline)
        return Judgement(Verdict.PASSED, f"per-request penalty {penalty.p50_s:.3f} s within the "
                         f"{run.budget_s:.1f} s budget; {penalty.describe()}", headline)

    return judge
