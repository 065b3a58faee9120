"""gameday.load.supervisor: whatever ends a run, no process of its group is left (shell stand-ins for locust)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.load.procs import group_members, wait_group_empty
from gameday.load.runner import supervised

Started = list[subprocess.Popen[bytes]]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.__exit__(None, None, None)  # closes the stdin pipe and reaps


def _start(tmp_path: Path, started: list[subprocess.Popen[bytes]], script: str, *, deadline_s: float = 30.0,
           grace_s: float = 1.0) -> subprocess.Popen[bytes]:
    with (tmp_path / "out.log").open("ab") as output:
        proc = supervised(["sh", "-c", script], deadline_s=deadline_s, grace_s=grace_s, nice=0, output=output)
    started.append(proc)
    return proc


def _wait_members(pgid: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(group_members(pgid)) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_closing_stdin_ends_the_whole_group(tmp_path: Path, started: Started) -> None:
    proc = _start(tmp_path, started, "trap 'exit 130' INT; sleep 30 & sleep 30 & wait")
    _wait_members(proc.pid, 4)  # supervisor, sh, two sleeps

    assert proc.stdin is not None
    proc.stdin.close()

    assert proc.wait(timeout=10) == 130  # the stand-in for locust exits on SIGINT, its children follow
    assert wait_group_empty(proc.pid, 5.0) == []


def test_the_deadline_ends_the_run_by_itself(tmp_path: Path, started: Started) -> None:
    proc = _start(tmp_path, started, "sleep 30", deadline_s=0.5)

    assert proc.wait(timeout=10) == 124
    assert group_members(proc.pid) == []


def test_a_child_that_ignores_sigint_is_killed_after_the_grace(tmp_path: Path, started: Started) -> None:
    proc = _start(tmp_path, started, "trap '' INT; sleep 30 & wait", deadline_s=0.3, grace_s=0.5)

    assert proc.wait(timeout=15) == 124
    assert group_members(proc.pid) == []
    assert "killing its process group" in (tmp_path / "out.log").read_text()


def test_orphans_left_by_a_finished_child_are_ended_and_reaped(tmp_path: Path, started: Started) -> None:
    proc = _start(tmp_path, started, "sleep 30 & exit 3")

    assert proc.wait(timeout=10) == 3
    assert group_members(proc.pid) == []


@pytest.mark.parametrize("argv", [[], ["--deadline", "1"]])
def test_it_refuses_to_run_without_a_command_or_deadline(argv: list[str]) -> None:
    import sys

    result = subprocess.run([sys.executable, "-m", "gameday.load.supervisor", *argv], capture_output=True,
                            cwd=Path(__file__).resolve().parents[2], timeout=30)
    assert result.returncode == 2
