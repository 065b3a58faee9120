"""`gameday run` end to end on localcloud: a budget below the measured time fails the run naming the
phase; --repeat reports a distribution; the HTML report's path is the last thing printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TIGHT = """
[budgets.eip-self-healing.terminate-instance]
fast = 5.0
realistic = 60.0
"""


def test_budget_below_measured_fails_naming_the_phase_and_repeat_reports_a_distribution(tmp_path: Path) -> None:
    budgets = tmp_path / "tight.toml"
    budgets.write_text(TIGHT)

    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", "--stack", "eip-self-healing", "--repeat", "2",
         "--budgets", str(budgets), "--report-dir", str(tmp_path / "reports"), "--run-id", "tight-budget"],
        cwd=ROOT, capture_output=True, text=True, timeout=400)

    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("gameday run: FAILED")]
    assert len(failed) == 2
    assert "eip-self-healing / terminate-instance" in failed[0]
    assert "over the 5.0 s budget" in failed[0] and "the time went to phase " in failed[0]
    assert "phase fault (outage)" in done.stdout or "phase detection" in done.stdout  # the live progress line
    assert done.stdout.rstrip().splitlines()[-1].startswith("HTML report: ")
    folder = tmp_path / "reports" / "tight-budget"
    data = json.loads((folder / "report.json").read_text())
    spread = data["distributions"]["eip-self-healing/terminate-instance"]
    assert spread["attempts"] == 2 and spread["recovered"] == 2
    assert spread["p50_s"] <= spread["p95_s"] == spread["max_s"]
    for scenario in data["scenarios"]:  # measured and predicted agree within 20 % under the fast profile
        assert scenario["failover_time_s"] == pytest.approx(scenario["prediction"]["mean_s"], rel=0.2)
    assert (folder / "report.html").stat().st_size > 10_000
    assert "## Repeats" in (folder / "summary.md").read_text()
