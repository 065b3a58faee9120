"""`gameday run` refuses every bad input before anything starts: one line, exit 2, in seconds (no localcloud),
no run folder and no history line. Through the real front door, `python -m gameday run`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFUSED_WITHIN_S = 20.0  # the checks take ~2 s; a localcloud start and a deploy take far longer


def refused(tmp_path: Path, *args: str) -> str:
    """Run `gameday run ARGS`; assert it was refused before anything started; return its one stderr line."""
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "gameday", "run", *args, "--report-dir", str(reports)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""  # not even the "gameday run <id>: ..." start line
    assert list(reports.iterdir()) == []  # no run folder, no history.jsonl
    assert took < REFUSED_WITHIN_S
    return done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--jobs", "-1"), "--jobs must be 0 (one per core) or more, got -1"),
    (("--param", "eip-self-healing.NoSuchKey=1"), "no template of eip-self-healing declares parameter 'NoSuchKey'"),
    (("--param", "eip-self-healing.=1"), "expected STACK.KEY=VALUE"),
    (("--load-rate", "-5"), "--load-rate must be a number above 0 and at most 100000, got -5"),
    (("--load", "steady", "--load-rate", "nan"), "--load-rate must be a number above 0"),
    (("--load-users", "0"), "--load-users must be a whole number at least 1"),
    (("--load-duration", "inf"), "--load-duration must be a number above 0 and at most 86400, got inf"),
    (("--load-duration", "0"), "--load-duration must be a number above 0"),
    (("--load-processes", "0"), "--load-processes must be a whole number at least 1"),
    (("--load-processes", "100000"), "--load-processes must be a whole number at least 1 and at most 64"),
    (("-k", "(("), "-k '((' is not a pytest -k expression"),
    (("-k", "eip and"), "is not a pytest -k expression"),
    (("-k", "eip(name=1)"), "keyword expressions take no call parameters"),
    (("--run-id", "x"), "run id 'x' must be 3-41 lowercase letters"),
    (("--run-id", "good-id\n"), "run id 'good-id\\n' must be"),
])
def test_a_bad_option_is_refused_before_anything_starts(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert message in refused(tmp_path, *args)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", '"20"', "-5.0", "0", "true", "[1]"])
def test_a_malformed_budget_of_any_selected_scenario_is_refused(tmp_path: Path, value: str) -> None:
    # The damaged value sits in the last stack's table: every selected scenario is checked, not only the first.
    text = (ROOT / "gameday.toml").read_text()
    table = "[budgets.static-ip-haproxy.terminate-instance]\nfast = 15.0"
    assert table in text
    budgets = tmp_path / "budgets.toml"
    budgets.write_text(text.replace(table, f"[budgets.static-ip-haproxy.terminate-instance]\nfast = {value}"))

    line = refused(tmp_path, "--budgets", str(budgets))

    assert "static-ip-haproxy" in line and "fast" in line
