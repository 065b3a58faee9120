"""The release gate: with `--repeat N` and a `[gate] statistic` in the budgets file, a scenario's verdict is its
failover-time statistic (p50, p95 or max over its attempts) against its budget, not each attempt alone.

An attempt that never recovered, or that failed for a reason other than its time, counts as an infinite failover
time: only a statistic that so small a share of attempts cannot move outvotes it (p95 over 20 or more attempts).
Attempts that errored or did not run are not in the statistic; the run says so by its exit code (3) as without a
gate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gameday.analysis import percentiles
from gameday.reports.stats import scenario_key

JUDGED = ("passed", "failed")


@dataclass(frozen=True)
class GateVerdict:
    key: str
    statistic: str
    value_s: float | None  # None: no attempt was judged; inf: the statistic falls on an attempt that never recovered
    budget_s: float
    attempts: int  # judged attempts (passed or failed)
    over_budget: int  # judged attempts that failed alone

    @property
    def passed(self) -> bool:
        return self.value_s is not None and self.value_s <= self.budget_s

    def line(self) -> str:
        value = "none" if self.value_s is None else "no recovery" if math.isinf(self.value_s) \
            else f"{self.value_s:.2f} s"
        word = "PASSED" if self.passed else "FAILED"
        return (f"gate {word} {self.key}: {self.statistic} {value} vs budget {self.budget_s:.1f} s over "
                f"{self.attempts} attempt(s), {self.over_budget} over budget alone")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        """Back from report.json, where no recovery is a null value over judged attempts."""
        value = data.get("value_s")
        return cls(str(data["key"]), str(data["statistic"]),
                   math.inf if value is None and data.get("attempts") else value, float(data["budget_s"]),
                   int(data["attempts"]), int(data["over_budget"]))

    def to_dict(self) -> dict[str, Any]:
        value = None if self.value_s is None or math.isinf(self.value_s) else self.value_s
        return {"key": self.key, "statistic": self.statistic, "value_s": value, "budget_s": self.budget_s,
                "attempts": self.attempts, "over_budget": self.over_budget, "passed": self.passed}


def judge(scenarios: Iterable[Mapping[str, Any]], statistic: str) -> list[GateVerdict]:
    """One verdict per stack/scenario over its judged attempts (report.json's scenario rows)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for s in scenarios:
        if s["verdict"] in JUDGED:
            grouped.setdefault(scenario_key(s), []).append(s)
    verdicts = []
    for key, attempts in grouped.items():
        times = [_time(s) for s in attempts]
        verdicts.append(GateVerdict(key, statistic, _statistic(times, statistic), float(attempts[-1]["budget_s"]),
                                    len(attempts), sum(1 for s in attempts if s["verdict"] == "failed")))
    return verdicts


def _time(s: Mapping[str, Any]) -> float:
    """The attempt's failover time; no recovery, or a failure its time does not explain (the judge's own
    check, e.g. data lost), is infinite: no statistic outvotes it."""
    value = s.get("measured_s", s.get("failover_time_s"))
    if value is None or (s["verdict"] == "failed" and float(value) <= float(s["budget_s"])):
        return math.inf
    return float(value)


def _statistic(times: list[float], statistic: str) -> float | None:
    spread = percentiles(times)
    return {"p50": spread.p50, "p95": spread.p95, "max": spread.max}[statistic]
