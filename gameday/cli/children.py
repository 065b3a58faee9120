"""The pytest children of `gameday run`, each in its own session: a terminal's Ctrl-C reaches the parent only,
which forwards one stop signal to each child (so no child gets a second one mid-revert), then waits for them
to revert and tear down, bounded, saying what is left if stopped again."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from gameday.cli.progress import ProgressBoard
from gameday.errors import GamedayError
from gameday.faults.journal import RollbackJournal

POLL_S = 0.5
# The signal each child gets for the one the parent received: a hang-up stops the run like SIGTERM.
FORWARDED = {signal.SIGINT: signal.SIGINT, signal.SIGTERM: signal.SIGTERM, signal.SIGHUP: signal.SIGTERM}


@dataclass(frozen=True)
class Children:
    """What `run_children` needs: one pytest command per child, where logs go, the root to run from."""

    commands: Mapping[str, Sequence[str]]
    folder: Path  # parts/: <name>.log and <name>.progress.jsonl
    cwd: Path
    env: Mapping[str, str]
    jobs: int
    journal: Path
    stop_grace_s: float  # after a stop, how long the children get to revert and tear down before SIGKILL


@dataclass(frozen=True)
class Ended:
    codes: dict[str, int]  # child name -> exit code (negative: killed by that signal)
    stopped_by: str | None  # SIGINT, SIGTERM or SIGHUP when the parent was told to stop
    killed: tuple[str, ...]  # children still running stop_grace_s after the stop: SIGKILLed


class StopSignals:
    """The stop signals the parent received, in order; its handler only records (printing is the loop's)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.told = 0
        self._wakeup: int | None = None  # read end of the pipe the interpreter writes each signal to

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    @property
    def first(self) -> str | None:
        return signal.Signals(self.received[0]).name if self.received else None

    def wait(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s`, woken at once by a signal (so a stop is forwarded without delay)."""
        if self._wakeup is None:
            time.sleep(timeout_s)
            return
        readable, _, _ = select.select([self._wakeup], [], [], timeout_s)
        if readable:
            os.read(self._wakeup, 512)

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {}
        for signum in FORWARDED:
            current = signal.getsignal(signum)
            if signum == signal.SIGHUP and current == signal.SIG_IGN:
                continue  # under nohup: a hang-up is not a stop
            previous[signum] = current
            signal.signal(signum, self)
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        previous_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._wakeup = read
        try:
            yield
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            self._wakeup = None
            os.close(read)
            os.close(write)
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def run_children(children: Children, out: IO[str] = sys.stdout) -> Ended:
    """Start up to `jobs` children at a time and print progress until all have ended. After a stop signal
    no child is started, each running one gets the signal once, and is waited for up to `stop_grace_s`."""
    waiting = list(children.commands)
    running: dict[str, subprocess.Popen[bytes]] = {}
    signalled: set[str] = set()
    codes: dict[str, int] = {}
    board = ProgressBoard(children.folder, out)
    stop = StopSignals()
    stopped_at: float | None = None
    killed: tuple[str, ...] = ()
    with stop.installed():
        try:
            while waiting or running:
                if stop.received and stopped_at is None:
                    stopped_at = time.monotonic()
                    waiting.clear()
                while waiting and len(running) < children.jobs:
                    name = waiting.pop(0)
                    running[name] = _start(children, name)
                    print(f"  {name}: started (log: {children.folder / f'{name}.log'})", file=out, flush=True)
                _forward(stop, running, signalled)
                _tell(stop, children, running)
                _reap(running, codes, board, out)
                if stopped_at is not None and running and time.monotonic() - stopped_at > children.stop_grace_s:
                    killed = _kill(running, codes, children, stop)
                board.update()
                if running:
                    stop.wait(POLL_S)
        finally:
            for name, child in running.items():  # an error in this loop: the children still finish their reverts
                codes[name] = child.wait()
    return Ended(codes, stop.first, killed)


def _start(children: Children, name: str) -> subprocess.Popen[bytes]:
    with (children.folder / f"{name}.log").open("w") as log:
        # Its own session: the terminal's Ctrl-C is the parent's to forward, once.
        return subprocess.Popen(list(children.commands[name]), cwd=children.cwd, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(children.env), start_new_session=True)


def _forward(stop: StopSignals, running: Mapping[str, subprocess.Popen[bytes]], signalled: set[str]) -> None:
    if not stop.received:
        return
    for name, child in running.items():
        if name not in signalled and child.poll() is None:
            child.send_signal(FORWARDED[signal.Signals(stop.received[0])])
            signalled.add(name)


def _tell(stop: StopSignals, children: Children, running: Mapping[str, subprocess.Popen[bytes]]) -> None:
    """One line per stop signal: the first says the run is stopping, each later one what is left."""
    while stop.told < len(stop.received):
        name = signal.Signals(stop.received[stop.told]).name
        if stop.told == 0:
            print(f"gameday run: {name}: stopping; each child reverts its faults and tears down (waiting up to "
                  f"{children.stop_grace_s:.0f} s)", file=sys.stderr, flush=True)
        else:
            print(f"gameday run: {name} again: still stopping {', '.join(running) or 'nothing'}; "
                  f"{what_is_left(children.journal)}", file=sys.stderr, flush=True)
        stop.told += 1


def what_is_left(journal: Path) -> str:
    """The journal's unfinished reverts in one line, with the command that replays them."""
    try:
        left = RollbackJournal(journal).unfinished()
    except (GamedayError, OSError) as exc:
        return f"journal {journal} unreadable ({exc}); `gameday rollback --journal {journal}` replays it"
    if not left:
        return f"no fault is left unreverted (journal {journal})"
    listed = ", ".join(f"{e.fault} on {e.target}" for e in left[:5]) + (" …" if len(left) > 5 else "")
    return (f"{len(left)} fault(s) not reverted yet: {listed}; if the run is killed, "
            f"`gameday rollback --journal {journal}` reverts them")


def _reap(running: dict[str, subprocess.Popen[bytes]], codes: dict[str, int], board: ProgressBoard,
          out: IO[str]) -> None:
    for name, child in list(running.items()):
        code = child.poll()
        if code is not None:
            codes[name] = code
            del running[name]
            board.update()
            print(f"  {name}: done ({child_outcome(code)})", file=out, flush=True)


def _kill(running: dict[str, subprocess.Popen[bytes]], codes: dict[str, int], children: Children,
          stop: StopSignals) -> tuple[str, ...]:
    """The grace is over: SIGKILL each child's process group (their localclouds end with their stdin)."""
    names = tuple(running)
    for name, child in running.items():
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        codes[name] = child.wait()
        print(f"gameday run: {name} still running {children.stop_grace_s:.0f} s after {stop.first}: killed; "
              f"{what_is_left(children.journal)}", file=sys.stderr, flush=True)
    running.clear()
    return names


# pytest's exit codes, and the children's own meaning for them.
TESTS_FAILED, INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR, NO_TESTS_COLLECTED = 1, 2, 3, 4, 5
_OUTCOMES = {0: "all passed", TESTS_FAILED: "a scenario failed", INTERRUPTED: "interrupted",
             INTERNAL_ERROR: "the suite broke", USAGE_ERROR: "refused or bad usage",
             NO_TESTS_COLLECTED: "no scenario selected", 130: "interrupted",
             -signal.SIGKILL: "killed", -signal.SIGINT: "interrupted", -signal.SIGTERM: "interrupted"}


def child_outcome(code: int) -> str:
    return _OUTCOMES.get(code, f"pytest exit {code}")


def interrupted(code: int) -> bool:
    return child_outcome(code) in ("interrupted", "killed")
