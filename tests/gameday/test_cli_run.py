import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_unknown_stack_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = gameday("run", "--stack", "nope", "--report-dir", str(tmp_path))

    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "unknown stack 'nope'" in done.stderr


def test_unknown_profile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = gameday("run", "--profile", "warp", "--report-dir", str(tmp_path))

    assert done.returncode == 2
    assert "unknown time profile 'warp'" in done.stderr


def test_bad_run_id_is_rejected(tmp_path: Path) -> None:
    done = gameday("run", "--run-id", "Bad Id!", "--report-dir", str(tmp_path))

    assert done.returncode == 2
    assert "run id" in done.stderr


def test_help_lists_subcommands() -> None:
    done = gameday("--help")

    assert done.returncode == 0
    assert "run" in done.stdout


def test_repeat_below_one_is_rejected(tmp_path: Path) -> None:
    done = gameday("run", "--repeat", "0", "--report-dir", str(tmp_path))

    assert done.returncode == 2
    assert "--repeat must be at least 1" in done.stderr


def test_missing_budgets_file_is_rejected(tmp_path: Path) -> None:
    done = gameday("run", "--budgets", str(tmp_path / "nope.toml"), "--report-dir", str(tmp_path))

    assert done.returncode == 2
    assert "budgets file" in done.stderr


def test_run_help_groups_its_options_and_explains_exit_status() -> None:
    done = gameday("run", "--help")

    assert done.returncode == 0
    assert "--repeat N" in done.stdout and "--jobs N" in done.stdout
    assert "exit status" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--param", "eip-self-healing.NoSuchKey=1"), "no template of eip-self-healing declares parameter 'NoSuchKey'"),
    (("--param", "eip-self-healing.=1"), "expected STACK.KEY=VALUE"),
    (("--existing-stack", "web"), "--existing-stack needs --backend aws"),
    (("--backend", "aws", "--region", "eu-west-1", "--existing-stack", "nope.main=x"), "is not one this run plays"),
    (("--backend", "aws", "--region", "eu-west-1", "--stack", "origin-group", "--existing-stack",
      "origin-group.edge=x"), "origin-group has no part 'edge'"),
    (("--backend", "aws", "--region", "eu-west-1", "--stack", "eip-self-healing", "--stack", "origin-group",
      "--existing-stack", "eip-self-healing=web"), "select the adopted stacks with --stack"),
    (("--backend", "aws", "--region", "eu-west-1", "--resolver", "nohost"), "--resolver 'nohost'"),
    (("--backend", "aws", "--region", "mars-1"), "not an AWS region"),
    (("--backend", "aws", "--region", "eu-west-1", "--endpoint-url", "ftp://x"), "not an http(s) URL"),
    (("--stacks-dir", "/nonexistent/kits"), "not a directory"),
    (("--jobs", "-1"), "--jobs must be 0"),
])
def test_bad_input_is_one_line_exit_2_before_anything_starts(tmp_path: Path, args: tuple[str, ...],
                                                             message: str) -> None:
    done = gameday("run", *args, "--report-dir", str(tmp_path))

    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and done.stderr.strip().count("\n") == 0
    assert not any(tmp_path.iterdir())  # no run folder: nothing started


def test_budgets_that_are_not_finite_are_refused_before_anything_starts(tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text("[budgets.eip-self-healing.terminate-instance]\nfast = nan\n")

    done = gameday("run", "--stack", "eip-self-healing", "--budgets", str(budgets), "--report-dir",
                   str(tmp_path / "reports"))

    assert done.returncode == 2
    assert "must be > 0" in done.stderr and not (tmp_path / "reports").exists()
