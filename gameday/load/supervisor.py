"""Keeps one locust run in one process group and ends all of it, whatever ends the run.

`python -m gameday.load.supervisor --deadline S --grace G -- locust …`, started by the runner as the
leader of a new session. It stops locust (SIGINT, then SIGKILL for the whole group after the grace)
when its stdin reaches EOF — the runner closed it, or the runner died in any way, SIGKILL included —
when it is signalled, or when the deadline passes. It is a child subreaper, so forked locust workers
are reaped here and nothing is left as a zombie or an orphan.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

from gameday.load.procs import LEFTOVER_GRACE_S, signal_group, wait_group_empty, zombie_children

PR_SET_CHILD_SUBREAPER = 36
EXIT_DEADLINE = 124  # like timeout(1)


def _become_subreaper() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # orphans then go to init; the group kill below still reaches them


def _reap_orphans(keep: int) -> None:
    """Reap adopted zombies, but not `keep` (locust itself: Popen must read its exit code)."""
    for pid in zombie_children(os.getpid()):
        if pid != keep:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _stdin_closed(timeout_s: float) -> bool:
    """Wait up to `timeout_s` for our stdin (the runner's pipe) to reach EOF."""
    ready, _, _ = select.select([0], [], [], timeout_s)
    if not ready:
        return False
    try:
        return not os.read(0, 4096)
    except OSError:
        return True


def _log(message: str) -> None:
    print(f"gameday.load.supervisor[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _end_group(child: subprocess.Popen[bytes], *, hard: bool) -> None:
    """No member of our group but us is left alive, and every zombie is reaped."""
    me, group = os.getpid(), os.getpgrp()
    if not hard:
        signal_group(group, signal.SIGTERM, except_pid=me)
        hard = bool(wait_group_empty(group, LEFTOVER_GRACE_S, except_pid=me))
    if hard:
        signal_group(group, signal.SIGKILL, except_pid=me)
        wait_group_empty(group, 5.0, except_pid=me)
    child.wait()
    _reap_orphans(keep=-1)


def _lower_priority(nice: int, idle: bool) -> None:
    """Inherited by locust and its workers: the load must not take CPU from the probes measuring it."""
    if nice:
        os.nice(nice)
    if idle and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            _log(f"could not switch to SCHED_IDLE ({exc}); staying at nice {nice}")


def supervise(command: list[str], deadline_s: float, grace_s: float, nice: int, idle: bool = False) -> int:
    """Run `command` until it ends, stdin closes, a signal comes or the deadline passes; return its code."""
    _become_subreaper()
    reason = ""

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal reason
        reason = reason or signal.Signals(signum).name

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    _lower_priority(nice, idle)
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + deadline_s
    while child.poll() is None and not reason:
        if time.monotonic() >= deadline:
            reason = "deadline"
        elif _stdin_closed(0.1):
            reason = "stdin closed"
        _reap_orphans(keep=child.pid)
    hard = False
    if child.poll() is None:
        _log(f"stopping locust ({reason})")
        # SIGINT, not SIGTERM: a headless locust running a shape installs its SIGTERM handler only after
        # the shape ends, so SIGTERM would kill it before it writes its stats; SIGINT it always handles
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _log(f"locust still running {grace_s:.0f} s after SIGINT: killing its process group")
            hard = True
    _end_group(child, hard=hard)
    code = child.returncode
    if reason == "deadline":
        return EXIT_DEADLINE
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gameday.load.supervisor")
    parser.add_argument("--deadline", type=float, required=True, help="stop locust after this many seconds")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGINT and SIGKILL")
    parser.add_argument("--nice", type=int, default=0, help="niceness increment for locust")
    parser.add_argument("--idle", action="store_true", help="run locust in SCHED_IDLE (only spare CPU)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise")
    return supervise(command, args.deadline, args.grace, args.nice, args.idle)


if __name__ == "__main__":
    sys.exit(main())
