"""A run's report folder: report.json (the source of truth), summary.md, junit.xml, history.jsonl."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.load.analysis import load_report
from gameday.reports.junit import render_junit
from gameday.reports.markdown import render_summary
from gameday.scenario import ScenarioResult

SCHEMA_VERSION = 1


@dataclass
class RunReport:
    run_id: str
    backend: str
    profile: str
    started_at: float
    ended_at: float | None = None
    scenarios: list[ScenarioResult] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. per-scenario load rows, keyed by scenario

    @property
    def label(self) -> str:
        if self.backend == "localcloud":
            return f"localcloud, time profile {self.profile}"
        return f"{self.backend} (real AWS)"

    @property
    def passed(self) -> bool:
        return bool(self.scenarios) and all(s.passed for s in self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "backend": self.backend,
            "profile": self.profile,
            "label": self.label,
            "host": platform.node(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "passed": self.passed,
            "counts": {v: sum(1 for s in self.scenarios if s.verdict == v) for v in ("passed", "failed", "error")},
            "scenarios": [self._scenario(s) for s in self.scenarios],
        }

    def _scenario(self, result: ScenarioResult) -> dict[str, Any]:
        data = result.to_dict()
        data["load"] = load_report(result.timeline, window=_outage_window(result))
        extra = self.extras.get(f"{result.stack_id}/{result.scenario}")
        if extra:
            data.update(extra)
        return data

    def history_line(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "backend": self.backend, "profile": self.profile,
            "started_at": self.started_at, "passed": self.passed,
            "scenarios": [{"stack": s.stack_id, "scenario": s.scenario, "verdict": s.verdict,
                           "failover_time_s": s.failover_time_s, "budget_s": s.budget_s,
                           "predicted_s": s.prediction.mean_s if s.prediction else None}
                          for s in self.scenarios],
        }


def _outage_window(result: ScenarioResult) -> tuple[float, float] | None:
    """From the fault to stable service: where errors are expected, for load-vs-probe comparison."""
    if result.fault_at is None:
        return None
    stable = result.failover.phase("stable") if result.failover else None
    end = stable.at if stable and stable.at is not None else result.timeline.origin_at + 10**9
    return (result.fault_at, end)


def write_report(report: RunReport, reports_dir: Path) -> Path:
    """Write the run's folder and append to reports/history.jsonl; returns the folder."""
    folder = reports_dir / report.run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report.to_dict(), separators=(",", ":")) + "\n")
    (folder / "summary.md").write_text(render_summary(report))
    (folder / "junit.xml").write_text(render_junit(report))
    with (reports_dir / "history.jsonl").open("a") as history:
        history.write(json.dumps(report.history_line(), sort_keys=True) + "\n")
    return folder
