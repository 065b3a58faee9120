"""history.jsonl: one line per run; trends compare the latest run with the earlier ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.reports.history import append_history, history_line, read_history, trends
from gameday.reports.run import RunReport
from tests.gameday.scenario_data import scenario


def run(run_id: str, *, detection_s: float = 6.5, started: float = 0.0) -> dict:  # type: ignore[type-arg]
    report = RunReport(run_id, "localcloud", "fast", started_at=started)
    report.scenarios.append(scenario(detection_s=detection_s, start_at=1_000.0 + started))
    return report.to_dict()


def test_three_steady_runs_are_not_a_regression() -> None:
    lines = [history_line(run(f"r{i}", started=i)) for i in range(3)]

    [trend] = trends(lines)

    assert len(trend.points) == 3
    assert not trend.regression
    assert "steady" in trend.summary()


def test_a_slower_run_is_a_regression_naming_the_phase_that_moved_in_both() -> None:
    lines = [history_line(run(f"r{i}", started=i)) for i in range(3)]
    lines.append(history_line(run("slow", detection_s=12.0, started=4)))  # prediction follows the config

    [trend] = trends(lines)

    assert trend.regression
    assert trend.moved[0][0] == "detection"
    assert trend.moved[0][1] == pytest.approx(5.5, abs=0.15)
    assert trend.moved[0][2] == pytest.approx(5.5)
    assert "REGRESSION" in trend.summary() and "detection +5.5" in trend.summary()


def test_runs_of_another_profile_are_not_compared() -> None:
    other = history_line(run("other"))
    other["profile"] = "realistic"

    [trend] = trends([other, history_line(run("now", started=1))])

    assert [p.run_id for p in trend.points] == ["now"]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    append_history(path, history_line(run("r1")))
    with path.open("a") as stream:
        stream.write('{"run_id": "torn"')

    assert [line["run_id"] for line in read_history(path)] == ["r1"]
