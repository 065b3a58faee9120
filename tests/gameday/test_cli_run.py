import subprocess
import sys
from pathlib import Path

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
