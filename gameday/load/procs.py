"""Process-group facts from /proc: which processes are still alive in a group. Linux only."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_PROC = Path("/proc")
LEFTOVER_GRACE_S = 3.0  # forked locust workers follow their master out within ~3 s (locust's own wait)


def _processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process."""
    found = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # the command name is in parentheses and may contain spaces: split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        found.append((int(entry.name), fields[0], int(fields[1]), int(fields[2])))
    return found


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is `pgid`."""
    return sorted(pid for pid, state, _, group in _processes() if group == pgid and state not in ("Z", "X"))


def zombie_children(parent: int) -> list[int]:
    return sorted(pid for pid, state, ppid, _ in _processes() if ppid == parent and state == "Z")


def signal_group(pgid: int, sig: signal.Signals, *, except_pid: int | None = None) -> None:
    for pid in group_members(pgid):
        if pid == except_pid:
            continue
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_group_empty(pgid: int, timeout_s: float, *, except_pid: int | None = None) -> list[int]:
    """Poll until no member of the group is alive (other than `except_pid`); return who is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in group_members(pgid) if pid != except_pid]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)
