"""`gameday run`'s children, real processes: a stop signal reaches each child once, however many the parent
gets; the parent says what is left on a second one; a child that outlives the grace is killed."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from gameday.cli.children import Children, run_children
from gameday.faults.journal import RollbackJournal

# A stand-in for a pytest child: notes every SIGINT it gets, "reverts" for a while after the first, exits 130.
CHILD = """
import signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
got = []
def on_int(signum, frame):
    got.append(signum)
    with out.open("a") as f:
        f.write(signal.Signals(signum).name + "\\n")
signal.signal(signal.SIGINT, on_int)
signal.signal(signal.SIGTERM, on_int)
Path(sys.argv[1] + ".ready").touch()
deadline = time.monotonic() + 30
while not got and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(float(sys.argv[2]))  # the revert and teardown
sys.exit(130)
"""

STUBBORN = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)
Path(sys.argv[1] + ".ready").touch()
time.sleep(60)
"""


def _children(tmp_path: Path, script: str, names: tuple[str, ...], hold_s: float, grace_s: float) -> Children:
    return Children({name: [sys.executable, "-c", script, str(tmp_path / name), str(hold_s)] for name in names},
                    tmp_path, tmp_path, dict(os.environ), len(names), tmp_path / "rollback.jsonl", grace_s)


def _signal_when_ready(tmp_path: Path, names: tuple[str, ...], signals: list[tuple[float, int]]) -> threading.Thread:
    """Once every child is ready, send the parent (this process) each signal after its delay."""

    def send() -> None:
        deadline = time.monotonic() + 20
        while not all((tmp_path / f"{n}.ready").exists() for n in names) and time.monotonic() < deadline:
            time.sleep(0.02)
        for delay, signum in signals:
            time.sleep(delay)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_two_ctrl_c_reach_each_child_once_and_the_second_says_what_is_left(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = ("alpha", "beta")
    RollbackJournal(tmp_path / "rollback.jsonl").record("terminate-instance", "i-0abc", "noop", {})
    sender = _signal_when_ready(tmp_path, names, [(0.0, signal.SIGINT), (0.3, signal.SIGINT)])
    before = signal.getsignal(signal.SIGINT)

    ended = run_children(_children(tmp_path, CHILD, names, hold_s=3.0, grace_s=30.0))

    sender.join(5)
    assert ended.stopped_by == "SIGINT" and ended.killed == ()
    assert ended.codes == {"alpha": 130, "beta": 130}
    assert [(tmp_path / n).read_text() for n in names] == ["SIGINT\n", "SIGINT\n"]
    err = capsys.readouterr().err
    assert "gameday run: SIGINT: stopping" in err
    again = [line for line in err.splitlines() if "SIGINT again" in line]
    assert len(again) == 1
    assert "terminate-instance on i-0abc" in again[0] and f"gameday rollback --journal {tmp_path}" in again[0]
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_is_forwarded_as_sigterm(tmp_path: Path) -> None:
    sender = _signal_when_ready(tmp_path, ("only",), [(0.0, signal.SIGTERM)])

    ended = run_children(_children(tmp_path, CHILD, ("only",), hold_s=0.1, grace_s=30.0))

    sender.join(5)
    assert ended.stopped_by == "SIGTERM"
    assert (tmp_path / "only").read_text() == "SIGTERM\n"


def test_a_child_still_running_after_the_grace_is_killed(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    sender = _signal_when_ready(tmp_path, ("stuck",), [(0.0, signal.SIGINT)])
    started = time.monotonic()

    ended = run_children(_children(tmp_path, STUBBORN, ("stuck",), hold_s=0.0, grace_s=1.0))

    sender.join(5)
    assert time.monotonic() - started < 15
    assert ended.killed == ("stuck",) and ended.codes == {"stuck": -signal.SIGKILL}
    assert "stuck still running 1 s after SIGINT: killed" in capsys.readouterr().err
