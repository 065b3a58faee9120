"""A run's report folder: report.json (the source of truth), summary.md, junit.xml, report.html, history.jsonl.

Every renderer is a pure function of the report.json document, so a run split over several pytest
children (one per stack, each writing `parts/<stack>.json`) merges into one report, and
`gameday report` re-renders any run from its report.json.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.load.analysis import load_report
from gameday.model.compare import compare, measured_only
from gameday.reports.charts import chart_data
from gameday.reports.evidence import write_evidence
from gameday.reports.history import history_line, trends
from gameday.reports.history_store import FileHistory, HistoryStore
from gameday.reports.html import render_html
from gameday.reports.junit import render_junit
from gameday.reports.markdown import ReportSection, render_summary
from gameday.reports.stats import distributions
from gameday.scenario import ScenarioResult
from gameday.timeline import RAW_FORMAT, RAW_SCHEMA

SCHEMA_VERSION = 2
PARTS = "parts"
TIMELINES = "timelines"  # the scenarios' raw timelines, beside report.json


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
        return run_label(self.backend, self.profile)

    @property
    def passed(self) -> bool:
        return bool(self.scenarios) and all(s.passed for s in self.scenarios)

    def to_dict(self, folder: Path | None = None) -> dict[str, Any]:
        """The report document. With the run's `folder`, each scenario's raw timeline is written to
        `timelines/` there and report.json points to it; without, the timeline is inline (schema 1)."""
        attempts: dict[str, int] = {}
        scenarios = []
        for result in self.scenarios:
            key = f"{result.stack_id}/{result.scenario}"
            attempts[key] = attempts.get(key, 0) + 1
            scenarios.append({**self._scenario(result, folder, attempts[key]), "attempt": attempts[key]})
        return finish({"schema": SCHEMA_VERSION, "run_id": self.run_id, "backend": self.backend,
                       "profile": self.profile, "host": platform.node(), "started_at": self.started_at,
                       "ended_at": self.ended_at, "scenarios": scenarios})

    def _scenario(self, result: ScenarioResult, folder: Path | None = None, attempt: int = 1) -> dict[str, Any]:
        data = result.to_dict(with_timeline=folder is None)
        if folder is not None:
            data["timeline"] = write_timeline(result, folder, attempt)
        data["chart"] = chart_data(result.timeline, result.fault_at)
        data["load"] = load_report(result.timeline, window=_outage_window(result))
        if result.failover is not None and result.prediction is not None:
            events = result.timeline.snapshot()[1]
            data["phase_check"] = [c.to_dict() for c in compare(result.failover, result.prediction, events)]
        else:
            data["phase_check"] = []
        data["measured_only"] = ([m.__dict__ for m in measured_only(result.timeline.snapshot()[1], result.fault_at)]
                                 if result.fault_at is not None else [])
        extra = self.extras.get(f"{result.stack_id}/{result.scenario}")
        if extra:
            data.update(extra)
        return data


def run_label(backend: str, profile: str) -> str:
    """Which backend measured the numbers and which time profile they were judged against."""
    if backend == "localcloud":
        return f"localcloud, time profile {profile}"
    return f"backend {backend}, judged against time profile {profile}"


def finish(data: dict[str, Any]) -> dict[str, Any]:
    """The fields derived from the scenarios: verdict counts, pass/fail, distributions over repeats."""
    scenarios = data["scenarios"]
    data["label"] = run_label(data["backend"], data["profile"])
    data["passed"] = bool(scenarios) and all(s["verdict"] == "passed" for s in scenarios)
    data["counts"] = {v: sum(1 for s in scenarios if s["verdict"] == v)
                      for v in ("passed", "failed", "error", "not run")}
    data["distributions"] = distributions(scenarios)
    return data


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from the per-stack parts of a run (same run id, backend and profile)."""
    if not parts:
        raise ValueError("no report parts to merge")
    first = parts[0]
    merged = {key: first[key] for key in ("schema", "run_id", "backend", "profile", "host")}
    merged["started_at"] = min(p["started_at"] for p in parts)
    ends = [p["ended_at"] for p in parts if p.get("ended_at") is not None]
    merged["ended_at"] = max(ends) if ends else None
    merged["scenarios"] = sorted((s for p in parts for s in p["scenarios"]),
                                 key=lambda s: (s["stack"], s["scenario"], s.get("attempt", 1)))
    return finish(merged)


def _outage_window(result: ScenarioResult) -> tuple[float, float] | None:
    """From the fault to stable service: where errors are expected, for load-vs-probe comparison."""
    if result.fault_at is None:
        return None
    stable = result.failover.phase("stable") if result.failover else None
    end = stable.at if stable and stable.at is not None else result.timeline.origin_at + 10**9
    return (result.fault_at, end)


def write_part(report: RunReport, folder: Path, name: str) -> Path:
    """A child's share of the run: the parent merges every part into the report."""
    path = folder / PARTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(folder), separators=(",", ":")) + "\n")
    return path


def write_timeline(result: ScenarioResult, folder: Path, attempt: int = 1) -> dict[str, Any]:
    """Write the scenario's raw timeline to `folder/timelines/` (streamed) and return what report.json keeps
    of it: the relative path, per-probe counts, labels and the events (docs/report.md)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{result.stack_id}.{result.scenario}.{attempt}")
    relative = f"{TIMELINES}/{name}.jsonl.gz"
    timeline = result.timeline
    timeline.write_raw(folder / relative)
    stats = timeline.stats()
    return {"file": relative, "format": RAW_FORMAT, "schema": RAW_SCHEMA, "run_id": timeline.run_id,
            "origin_at": timeline.origin_at, "labels": dict(timeline.labels),
            "sample_count": sum(st.count for st in stats.values()),
            "duration_s": max((st.last_at for st in stats.values()), default=timeline.origin_at) - timeline.origin_at,
            "probes": {name: {"kind": st.kind, "target": st.target, "samples": st.count, "errors": st.errors}
                       for name, st in sorted(stats.items())},
            "events": timeline.to_events()}


def read_parts(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((folder / PARTS).glob("*.json"))]


def write_outputs(data: dict[str, Any], reports_dir: Path, *, history: bool = True, pdf: bool | None = None,
                  sections: Mapping[str, ReportSection] | None = None, store: HistoryStore | None = None) -> Path:
    """Write report.json, summary.md, junit.xml, report.html and the evidence (evidence.html, and report.pdf
    unless `pdf` is False or, left None, GAMEDAY_PDF=off); append the history line; return the folder.

    The summary and the HTML compare the run with the earlier game days of reports/history.jsonl; `sections`
    are the kits' own summary sections (`Kits.report_sections()`); `store` is where the history is kept when not
    there (`--history PATH|s3://…`)."""
    store = store or FileHistory(reports_dir / "history.jsonl")
    folder = reports_dir / data["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    earlier = [line for line in store.read() if line.get("run_id") != data["run_id"]]
    trend = trends([*earlier, history_line(data)])
    (folder / "report.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
    (folder / "summary.md").write_text(render_summary(data, trend, sections))
    (folder / "junit.xml").write_text(render_junit(data))
    (folder / "report.html").write_text(render_html(data, trend))
    write_evidence(folder, data, pdf=pdf)  # report.pdf needs Chromium; without it, one warning line
    if history:
        store.append(history_line(data))
    return folder


def write_report(report: RunReport, reports_dir: Path, sections: Mapping[str, ReportSection] | None = None) -> Path:
    """Write the run's folder and append to reports/history.jsonl; returns the folder."""
    return write_outputs(report.to_dict(reports_dir / report.run_id), reports_dir, sections=sections)
