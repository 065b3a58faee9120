"""`gameday report`: a run rendered again from its report.json, and trends across runs (--history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.reports import RunReport, write_outputs, write_part
from tests.gameday.scenario_data import scenario


def game_day(reports: Path, run_id: str, detection_s: float = 6.5) -> Path:
    run = RunReport(run_id, "localcloud", "fast", started_at=float(len(list(reports.glob("*")))))
    run.scenarios.append(scenario(detection_s=detection_s))
    return write_outputs(run.to_dict(), reports)


def test_history_shows_the_trend_over_three_runs_and_the_regression(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        game_day(tmp_path, f"run-{i}")
    game_day(tmp_path, "run-slow", detection_s=12.0)

    code = main(["report", "--history", "--report-dir", str(tmp_path), "--fail-on-regression"])

    out = capsys.readouterr().out
    assert code == 1
    assert all(f"| run-{i} |" in out for i in range(3)) and "| run-slow |" in out
    assert "REGRESSION" in out and "moved: detection +5.50 s" in out


def test_steady_history_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        game_day(tmp_path, f"run-{i}")

    assert main(["report", "--history", "--report-dir", str(tmp_path), "--fail-on-regression"]) == 0
    assert "steady" in capsys.readouterr().out


def test_a_run_left_in_parts_is_merged_and_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = RunReport("run-parts", "localcloud", "fast", started_at=1.0)
    run.scenarios.append(scenario())
    write_part(run, tmp_path / "run-parts", "eip-self-healing")

    code = main(["report", "run-parts", "--report-dir", str(tmp_path)])

    assert code == 0
    assert (tmp_path / "run-parts" / "report.html").exists()
    assert json.loads((tmp_path / "run-parts" / "report.json").read_text())["run_id"] == "run-parts"
    assert "HTML report:" in capsys.readouterr().out
    main(["report", "run-parts", "--report-dir", str(tmp_path)])  # rendering again adds no second history line
    assert (tmp_path / "history.jsonl").read_text().count("\n") == 1


def test_no_history_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--history", "--report-dir", str(tmp_path)]) == 2
    assert "no history yet" in capsys.readouterr().err
