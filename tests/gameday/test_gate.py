"""The release gate: a scenario's verdict over its attempts is a statistic of its failover times against the
budget; how a budgets file states it; and `gameday run` refusing a gate it cannot honour."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gameday.budgets import budget_for, gate_statistic, schedule_windows
from gameday.errors import ConfigError
from gameday.gate import judge

ROOT = Path(__file__).resolve().parents[2]


def attempt(seconds: float | None, budget: float = 10.0, verdict: str | None = None,
            scenario: str = "terminate-instance") -> dict[str, Any]:
    judged = verdict or ("passed" if seconds is not None and seconds <= budget else "failed")
    return {"stack": "eip-self-healing", "scenario": scenario, "verdict": judged, "measured_s": seconds,
            "failover_time_s": seconds, "budget_s": budget}


def test_p95_of_twenty_attempts_outvotes_one_slow_attempt() -> None:
    attempts = [attempt(5.0 + i * 0.1) for i in range(19)] + [attempt(14.0)]
    [verdict] = judge(attempts, "p95")
    assert verdict.passed and verdict.value_s == pytest.approx(6.8)  # nearest rank: the 19th of 20
    assert (verdict.attempts, verdict.over_budget) == (20, 1)
    [strict] = judge(attempts, "max")
    assert not strict.passed and strict.value_s == 14.0


def test_p95_of_five_attempts_is_their_slowest() -> None:
    [verdict] = judge([attempt(5.0)] * 4 + [attempt(11.0)], "p95")
    assert not verdict.passed and verdict.value_s == 11.0
    assert "gate FAILED eip-self-healing/terminate-instance: p95 11.00 s vs budget 10.0 s" in verdict.line()


def test_an_attempt_that_never_recovered_counts_as_no_recovery() -> None:
    [verdict] = judge([attempt(5.0), attempt(None)], "p50")
    assert verdict.passed  # p50 of two is the faster one
    [verdict] = judge([attempt(5.0), attempt(None)], "p95")
    assert not verdict.passed and math.isinf(verdict.value_s or 0.0)
    assert verdict.to_dict()["value_s"] is None and "no recovery" in verdict.line()


def test_an_attempt_failed_for_another_reason_than_its_time_is_not_outvoted() -> None:
    [verdict] = judge([attempt(5.0)] * 19 + [attempt(5.0, verdict="failed")], "p50")
    assert verdict.passed  # p50 of twenty: one attempt is outvoted
    [verdict] = judge([attempt(5.0), attempt(5.0, verdict="failed")], "p95")
    assert not verdict.passed and "no recovery" in verdict.line()


def test_errored_attempts_are_not_in_the_statistic_and_scenarios_are_apart() -> None:
    verdicts = judge([attempt(5.0), attempt(None, verdict="error"), attempt(30.0, scenario="zone-lost")], "p95")
    by_key = {v.key: v for v in verdicts}
    assert by_key["eip-self-healing/terminate-instance"].attempts == 1
    assert not by_key["eip-self-healing/zone-lost"].passed


def write(tmp_path: Path, text: str, name: str = "gate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_gate_file_extends_the_budgets_and_overrides_one(tmp_path: Path) -> None:
    gate = write(tmp_path, f'extends = "{ROOT / "gameday.toml"}"\n[gate]\nstatistic = "p95"\nmin_repeat = 5\n'
                           '[budgets.eip-self-healing.terminate-instance]\nrealistic = 120.0\n')
    assert gate_statistic(gate) == ("p95", 5)
    assert budget_for("eip-self-healing", "terminate-instance", "realistic", gate) == 120.0  # overridden
    assert budget_for("eip-self-healing", "terminate-instance", "fast", gate) == 25.0  # from gameday.toml
    assert gate_statistic(ROOT / "gameday.toml") == ("each", 1)  # no [gate]: every attempt alone
    assert schedule_windows(gate) == []


def test_the_shipped_release_gate_reads() -> None:
    statistic, least = gate_statistic(ROOT / "release-gate.toml")
    assert statistic == "p95" and least >= 2
    assert schedule_windows(ROOT / "release-gate.toml")
    assert budget_for("static-ip-haproxy", "terminate-instance", "fast", ROOT / "release-gate.toml") > 0


@pytest.mark.parametrize(("text", "said"), [
    ('[gate]\nstatistic = "p99.9"\n', "statistic 'p99.9' is none of each, p50, p95, max"),
    ('[gate]\nstatistic = "p95"\nmin_repeat = 0\n', "min_repeat must be a whole number of at least 1"),
    ('gate = 3\n', "gate must be a table"),
    ('extends = "gate.toml"\n', "more than 5 files deep"),
    ('extends = "missing.toml"\n', "missing.toml not found"),
])
def test_a_malformed_gate_is_one_config_error(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        gate_statistic(write(tmp_path, text))
    assert said in str(caught.value)


def test_gameday_run_refuses_a_gate_with_too_few_repeats_before_anything_starts(tmp_path: Path) -> None:
    gate = write(tmp_path, f'extends = "{ROOT / "gameday.toml"}"\n[gate]\nstatistic = "p95"\nmin_repeat = 5\n')
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "gameday", "run", "--stack", "eip-self-healing", "--budgets",
                           str(gate), "--repeat", "3", "--report-dir", str(reports)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (f"gameday run: error: {gate} gates on the p95 of at least 5 attempts per scenario:"
                                   f" pass --repeat 5 or more (got --repeat 3)")
    assert not reports.exists() or list(reports.iterdir()) == []


def test_a_gated_run_is_recorded_rendered_again_and_kept_in_history_by_the_gates_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gameday.cli import main
    from gameday.cli.run_policy import RunPolicy, gate_section
    from gameday.cli.run_policy import judge as judge_run
    from gameday.reports import RunReport, write_outputs
    from gameday.reports.history import read_history
    from gameday.reports.history_store import FileHistory
    from tests.gameday.scenario_data import scenario

    run = RunReport("gated-run", "localcloud", "fast", started_at=1.0)
    run.scenarios += [scenario(detection_s=6.5, budget_s=20.0), scenario(detection_s=16.0, budget_s=20.0)]
    data = run.to_dict()
    assert [s["verdict"] for s in data["scenarios"]] == ["passed", "failed"]
    policy = RunPolicy([], "p50", FileHistory(tmp_path / "history.jsonl"))
    verdicts = judge_run(policy, data)
    assert verdicts is not None and [v.passed for v in verdicts] == [True]  # p50 of two: the faster
    folder = write_outputs(data, tmp_path, store=policy.history)
    [line] = read_history(tmp_path / "history.jsonl")
    assert line["status"] == "passed" and line["passed"] is True and line["scenarios"][0]["verdict"] == "passed"

    assert main(["report", str(folder)]) == 0
    assert gate_section(verdicts) in (folder / "summary.md").read_text()
    assert "Release gate: p50 of the failover time against the budget" in capsys.readouterr().out


@pytest.mark.parametrize(("seconds", "statistic", "code"), [
    ((5.0, 5.2, 14.0), "p50", 0),    # one attempt over its budget, outvoted: the child's failed test is excused
    ((5.0, 14.0, 14.5), "p50", 1),   # the median is over
    ((5.0, 5.2, 14.0), "each", 1),   # no gate: any attempt over its budget fails the run
    ((5.0, 5.2, 6.0), "max", 0),
])
def test_the_runs_exit_code_follows_the_gate(tmp_path: Path, seconds: tuple[float, ...], statistic: str,
                                             code: int) -> None:
    from gameday.cli.children import TESTS_FAILED, Ended
    from gameday.cli.run import _exit_code
    from gameday.reports.run import finish
    from gameday.run import RunPaths

    scenarios = [{**attempt(s), "message": "", "attempt": i} for i, s in enumerate(seconds, start=1)]
    data = finish({"run_id": "gated", "backend": "localcloud", "profile": "fast", "scenarios": scenarios})
    any_failed = any(s["verdict"] == "failed" for s in scenarios)
    ended = Ended({"eip-self-healing": TESTS_FAILED if any_failed else 0}, None, ())
    verdicts = judge(scenarios, statistic) if statistic != "each" else None
    assert _exit_code(RunPaths.create("gated", tmp_path), ended, data, verdicts) == code


def test_a_gated_run_s_headline_is_the_gate_s_verdict_not_the_attempts() -> None:
    from gameday.reports.markdown import headline_verdict

    data = {"passed": False, "gate": {"statistic": "p95", "passed": True, "scenarios": []}}
    assert headline_verdict(data) == "PASSED (release gate, p95)"
    assert headline_verdict({"passed": False}) == "FAILED"
    assert headline_verdict({**data, "gate": {"statistic": "p95", "passed": False}}).startswith("FAILED")
