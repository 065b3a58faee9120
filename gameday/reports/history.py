"""reports/history.jsonl: one line per run; trends per scenario and the regressions they show.

A game day is compared with the last ones of the same backend and profile: a failover time (p50 over
repeats) more than `REGRESSION_SHARE` and `REGRESSION_MIN_S` above the median of the earlier runs is
a regression, and the phase whose time grew the most is named.

Every run that wrote a report has a line with its `status`; only completed runs (passed or failed) with finite
numbers are compared: an interrupted or broken run says nothing about how fast the stack recovers.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.jsonfile import loads
from gameday.reports.stats import scenario_key

log = logging.getLogger(__name__)

REGRESSION_SHARE = 0.2
REGRESSION_MIN_S = 1.0
PHASE_MOVE_MIN_S = 0.5
COMPARED_RUNS = 5  # the last runs a game day is compared with
STATUSES = ("passed", "failed", "interrupted", "broken", "not-run")
COMPLETED = ("passed", "failed")  # the runs trends and regressions are made of


def run_status(data: Mapping[str, Any]) -> str:
    """passed | failed | interrupted | broken | not-run, from a report document.

    `interrupted` is the runner's word (a report of a run stopped by Ctrl-C or SIGTERM carries
    `"interrupted": true` or a list of the interrupted scenarios); the rest follows from the verdicts."""
    if data.get("interrupted"):
        return "interrupted"
    verdicts = [s.get("verdict") for s in data.get("scenarios", [])]
    if not verdicts or all(v == "not run" for v in verdicts):
        return "not-run"
    if any(v not in ("passed", "failed") for v in verdicts):
        return "broken"  # a scenario errored or did not run: the suite, not the stack, decided this run
    if isinstance(data.get("gate"), dict):  # a release gate judged each scenario over its attempts
        return "passed" if data["gate"].get("passed") else "failed"
    return "passed" if all(v == "passed" for v in verdicts) else "failed"


def history_line(data: Mapping[str, Any]) -> dict[str, Any]:
    gated = {g["key"]: g["passed"] for g in data["gate"]["scenarios"]} if isinstance(data.get("gate"), dict) else {}
    scenarios = []
    for key, spread in data.get("distributions", {}).items():
        attempts = [s for s in data["scenarios"] if scenario_key(s) == key]
        last = attempts[-1]
        scenarios.append({
            "stack": last["stack"], "scenario": last["scenario"], "attempts": spread["attempts"],
            "verdict": "passed" if gated.get(key, spread["passed"] == spread["attempts"]) else "failed",
            "failover_time_s": spread["p50_s"], "p95_s": spread["p95_s"], "max_s": spread["max_s"],
            "budget_s": last["budget_s"],
            "predicted_s": last["prediction"]["mean_s"] if last.get("prediction") else None,
            "phases": {c["phase"]: {"measured_s": c["measured_segment_s"], "predicted_s": c["predicted_segment_s"]}
                       for c in last.get("phase_check", [])},
        })
    return {"run_id": data["run_id"], "backend": data["backend"], "profile": data["profile"],
            "started_at": data["started_at"], "passed": run_status(data) == "passed" if gated else data["passed"],
            "status": run_status(data),
            "scenarios": scenarios}


def read_history(path: Path) -> list[dict[str, Any]]:
    """Every line of the right shape. A torn line from a crash, or any damaged one, is skipped and logged:
    history informs, it never stops a run or a report."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return read_history_text(text, str(path))


def read_history_text(text: str, where: str) -> list[dict[str, Any]]:
    """The history lines of one document (a file, or one S3 object), damaged lines skipped and logged."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            item = loads(raw, f"{where} line {number}")
        except ConfigError as exc:
            log.warning("history line skipped: %s", exc)
            continue
        if _is_line(item):
            lines.append(item)
        else:
            log.warning("history line skipped: %s line %d is not a history line", where, number)
    return lines


def _is_line(item: Any) -> bool:
    return (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("run_id", "backend", "profile"))
            and _finite(item.get("started_at")) and isinstance(item.get("scenarios"), list)
            and all(isinstance(s, dict) and isinstance(s.get("stack"), str) and isinstance(s.get("scenario"), str)
                    for s in item["scenarios"]))


def completed(lines: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The lines of runs that completed (passed or failed). Lines written before runs had a status count when
    every verdict in them is passed or failed."""
    return [line for line in lines if line.get("status", _legacy_status(line)) in COMPLETED]


def _legacy_status(line: Mapping[str, Any]) -> str:
    verdicts = {s.get("verdict") for s in line["scenarios"]}
    return "passed" if verdicts and verdicts <= set(COMPLETED) else "broken"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def append_history(path: Path, line: Mapping[str, Any]) -> None:
    with path.open("a") as history:
        history.write(history_json(line) + "\n")


def history_json(line: Mapping[str, Any]) -> str:
    # allow_nan=False: a NaN would make the file unreadable by strict JSON readers; null says "no number".
    return json.dumps(_without_nan(line), sort_keys=True, allow_nan=False)


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(v) for v in value]
    return value


@dataclass(frozen=True)
class Point:
    run_id: str
    started_at: float
    failover_time_s: float | None
    predicted_s: float | None
    budget_s: float
    verdict: str
    phases: Mapping[str, Mapping[str, float | None]]


@dataclass(frozen=True)
class Trend:
    """One scenario across runs of one backend and profile, oldest first; the last point is the latest run."""

    key: str
    backend: str
    profile: str
    points: tuple[Point, ...]
    baseline_s: float | None  # median failover time of the earlier compared runs
    regression: bool
    moved: tuple[tuple[str, float, float | None], ...] = field(default=())  # phase, measured Δ, predicted Δ

    def summary(self) -> str:
        latest = self.points[-1]
        if latest.failover_time_s is None:
            return f"{self.key}: latest run did not recover"
        if self.baseline_s is None:
            return f"{self.key}: {latest.failover_time_s:.2f} s, first run with this backend and profile"
        delta = latest.failover_time_s - self.baseline_s
        word = "REGRESSION" if self.regression else "steady" if abs(delta) < REGRESSION_MIN_S else "changed"
        text = (f"{self.key}: {latest.failover_time_s:.2f} s vs {self.baseline_s:.2f} s median of the last "
                f"{len(self.points) - 1} run(s) ({delta:+.2f} s, {word})")
        if self.moved:
            text += "; moved: " + ", ".join(_moved(m) for m in self.moved)
        return text


def _moved(move: tuple[str, float, float | None]) -> str:
    name, measured, predicted = move
    return f"{name} {measured:+.2f} s" + (f" (predicted {predicted:+.2f} s)" if predicted is not None else "")


def trends(lines: Sequence[Mapping[str, Any]], *, compared_runs: int = COMPARED_RUNS) -> list[Trend]:
    """Per scenario and backend/profile of the latest line: its points, baseline and what moved.

    Only completed runs count, and in them only scenarios with a verdict and finite numbers; when the latest
    line is not a completed run there is no trend (an interrupted run is neither steady nor a regression)."""
    if not lines or not completed(lines[-1:]):
        return []
    valid = completed(lines)
    latest = valid[-1]
    same = [line for line in valid if (line["backend"], line["profile"]) == (latest["backend"], latest["profile"])]
    result = []
    for scenario in latest["scenarios"]:
        key = f"{scenario['stack']}/{scenario['scenario']}"
        points = [point for line in same for s in line["scenarios"]
                  if f"{s['stack']}/{s['scenario']}" == key and (point := _point(line, s)) is not None]
        if points and points[-1].run_id == latest["run_id"]:
            result.append(_trend(key, latest, points[-(compared_runs + 1):]))
    return result


def _point(line: Mapping[str, Any], s: Mapping[str, Any]) -> Point | None:
    """A scenario's point, or None when it has no verdict or a number that is not one (NaN, a string)."""
    failover, predicted, budget = s.get("failover_time_s"), s.get("predicted_s"), s.get("budget_s", 0.0)
    phases = s.get("phases") or {}
    if (s.get("verdict") not in COMPLETED or not _finite(budget) or not isinstance(phases, dict)
            or any(v is not None and not _finite(v) for v in (failover, predicted))
            or not all(isinstance(p, dict) and all(v is None or _finite(v) for v in p.values())
                       for p in phases.values())):
        return None
    return Point(line["run_id"], line["started_at"], failover, predicted, budget, s["verdict"], phases)


def _trend(key: str, latest: Mapping[str, Any], points: list[Point]) -> Trend:
    earlier = [p for p in points[:-1] if p.failover_time_s is not None]
    now = points[-1]
    if not earlier or now.failover_time_s is None:
        return Trend(key, latest["backend"], latest["profile"], tuple(points), None, now.failover_time_s is None)
    baseline = statistics.median(p.failover_time_s for p in earlier if p.failover_time_s is not None)
    grew = now.failover_time_s - baseline
    regression = grew > max(REGRESSION_MIN_S, REGRESSION_SHARE * baseline)
    return Trend(key, latest["backend"], latest["profile"], tuple(points), baseline, regression,
                 tuple(_phase_moves(earlier, now)))


def _phase_moves(earlier: Iterable[Point], now: Point) -> list[tuple[str, float, float | None]]:
    """Phases whose measured time moved against the earlier runs' median, largest move first."""
    earlier = list(earlier)
    moves = []
    for name, values in now.phases.items():
        measured = values.get("measured_s")
        before = [p.phases[name]["measured_s"] for p in earlier
                  if name in p.phases and p.phases[name].get("measured_s") is not None]
        if measured is None or not before:
            continue
        delta = measured - statistics.median(v for v in before if v is not None)
        if abs(delta) < PHASE_MOVE_MIN_S:
            continue
        predicted_before = [p.phases[name].get("predicted_s") for p in earlier if name in p.phases]
        predicted_now = values.get("predicted_s")
        predicted_delta = (predicted_now - statistics.median(v for v in predicted_before if v is not None)
                           if predicted_now is not None and any(v is not None for v in predicted_before) else None)
        moves.append((name, delta, predicted_delta))
    return sorted(moves, key=lambda m: -abs(m[1]))
