"""history.jsonl records every run with its status; trends and regressions are made of completed runs only."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gameday.cli import main
from gameday.reports import RunReport, write_outputs
from gameday.reports.history import append_history, history_line, read_history, run_status, trends
from gameday.scenario import Verdict
from tests.gameday.scenario_data import scenario


def run(run_id: str, *, detection_s: float = 6.5, started: float = 0.0, verdict: Verdict | None = None,
        interrupted: bool = False) -> dict[str, Any]:
    report = RunReport(run_id, "localcloud", "fast", started_at=started)
    result = scenario(detection_s=detection_s, start_at=1_000.0 + started)
    report.scenarios.append(result if verdict is None else replace(result, verdict=verdict))
    data = report.to_dict()
    if interrupted:
        data["interrupted"] = True
    return data


@pytest.mark.parametrize(("data", "status"), [
    (run("r-ok"), "passed"),
    (run("r-slow", verdict=Verdict.FAILED), "failed"),
    (run("r-int", interrupted=True), "interrupted"),
    (run("r-err", verdict=Verdict.ERROR), "broken"),
    (run("r-none", verdict=Verdict.NOT_RUN), "not-run"),
    (RunReport("r-empty", "localcloud", "fast", started_at=0.0).to_dict(), "not-run"),
])
def test_every_line_records_the_run_status(data: dict[str, Any], status: str) -> None:
    assert run_status(data) == status
    assert history_line(data)["status"] == status


def test_an_interrupted_run_does_not_make_the_next_valid_run_a_regression() -> None:
    # An interrupted run can stop mid-failover with a short, meaningless time: it must not become the baseline.
    cut_short = history_line(run("r-int", detection_s=0.5, interrupted=True))
    lines = [cut_short, cut_short | {"run_id": "r-int2"}, history_line(run("r-now", detection_s=6.5, started=5))]

    [trend] = trends(lines)

    assert [p.run_id for p in trend.points] == ["r-now"]
    assert not trend.regression and "first run" in trend.summary()


def test_the_latest_line_interrupted_has_no_trend() -> None:
    lines = [history_line(run(f"r{i}", started=i)) for i in range(3)]
    lines.append(history_line(run("r-int", detection_s=0.5, started=9, interrupted=True)))

    assert trends(lines) == []


def test_a_nan_in_an_old_line_is_ignored_by_trends(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    old = history_line(run("r-nan"))
    old["scenarios"][0]["failover_time_s"] = math.nan
    old["scenarios"][0]["budget_s"] = math.nan
    path.write_text(json.dumps(old) + "\n")  # as the old writer did: a bare NaN in the file
    for i in range(2):
        append_history(path, history_line(run(f"r{i}", started=i + 1)))

    [trend] = trends(read_history(path))

    assert [p.run_id for p in trend.points] == ["r0", "r1"]
    assert trend.baseline_s is not None and math.isfinite(trend.baseline_s) and not trend.regression


def test_a_nan_is_written_as_null(tmp_path: Path) -> None:
    line = history_line(run("r-nan"))
    line["scenarios"][0]["budget_s"] = math.nan

    append_history(tmp_path / "history.jsonl", line)

    text = (tmp_path / "history.jsonl").read_text()
    assert "NaN" not in text and json.loads(text)["scenarios"][0]["budget_s"] is None


def test_report_history_compares_completed_runs_and_keeps_the_others(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        write_outputs(run(f"run-{i}", started=i), tmp_path)
    write_outputs(run("run-int", detection_s=0.5, started=4, interrupted=True), tmp_path)

    code = main(["report", "--history", "--report-dir", str(tmp_path), "--fail-on-regression"])

    out = capsys.readouterr().out
    assert code == 0
    assert "3 completed run(s) of 4" in out and "| run-int |" not in out
    assert [line["status"] for line in read_history(tmp_path / "history.jsonl")] == ["passed"] * 3 + ["interrupted"]
