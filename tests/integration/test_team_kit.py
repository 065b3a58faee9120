"""A team's own stack through the real front door (`python -m gameday ...` as a subprocess): the worked
example in docs/examples/multivalue-pair is planned, exported to FIS, and played on localcloud; and the
same stack with health checks that fail open from the start must never pass."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SCENARIO = "multivalue-pair/terminate-one-node"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    """A copy, so that the kit is loaded from outside the repository as a team's folder would be."""
    copy = tmp_path / "kits"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def gameday(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_plan_and_export_fis_list_the_team_scenario(stacks_dir: Path, tmp_path: Path) -> None:
    plan = gameday("plan", "--stacks-dir", str(stacks_dir))
    exported = gameday("export-fis", SCENARIO, "--stacks-dir", str(stacks_dir))

    assert plan.returncode == 0, plan.stderr
    assert SCENARIO in plan.stdout and "aws:ec2:terminate-instances" in plan.stdout
    assert exported.returncode == 0, exported.stderr
    assert "aws:ec2:terminate-instances" in exported.stdout


def test_run_plays_the_team_stack_on_localcloud_within_its_own_budgets(stacks_dir: Path, tmp_path: Path) -> None:
    done = gameday("run", "--stacks-dir", str(stacks_dir), "--stack", "multivalue-pair", "--jobs", "1",
                   "--report-dir", str(tmp_path / "reports"), "--run-id", "team-kit", timeout=900)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "reports" / "team-kit" / "report.json").read_text())
    (scenario,) = data["scenarios"]
    assert (scenario["stack"], scenario["scenario"]) == ("multivalue-pair", "terminate-one-node")
    assert scenario["verdict"] == "passed" and scenario["backend"] == "localcloud"
    assert "left the answers" in scenario["message"] and "back in the answers" in scenario["message"]
    summary = (tmp_path / "reports" / "team-kit" / "summary.md").read_text()
    assert "came back at" in summary  # the answers left and returned: not "unchanged"


def test_health_checks_failing_open_before_the_fault_never_pass(stacks_dir: Path, tmp_path: Path) -> None:
    """Every check probes a port nothing listens on: all unhealthy, so Route 53 answers both records. The
    answers look complete, but that is fail-open, not a steady state."""
    done = gameday("run", "--stacks-dir", str(stacks_dir), "--stack", "multivalue-pair", "--jobs", "1",
                   "--param", "multivalue-pair.HealthCheckPort=8081",
                   "--report-dir", str(tmp_path / "reports"), "--run-id", "fail-open", timeout=900)

    assert done.returncode != 0, done.stdout[-3000:]
    data = json.loads((tmp_path / "reports" / "fail-open" / "report.json").read_text())
    (scenario,) = data["scenarios"]
    assert scenario["verdict"] == "failed", scenario["message"]
    assert scenario["message"].startswith("steady state never reached:")
    assert "unhealthy" in scenario["message"] and "failing open" in scenario["message"]
