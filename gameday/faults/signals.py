"""Signals around faults: SIGTERM takes Ctrl-C's path (so reverts run in `finally`), and a revert
in progress finishes before a SIGINT/SIGTERM that arrives meanwhile is delivered.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Within the block SIGTERM raises KeyboardInterrupt, like Ctrl-C (main thread only; else a no-op)."""
    if not _in_main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals(on_hold: Callable[[int], None] | None = None) -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block, then deliver the first one that came (main thread only);
    `on_hold(signum)` is called for each one held (to say what is being finished meanwhile).

    A second Ctrl-C during a revert would otherwise abandon it half done; the journal would still
    cover that, but finishing is better.
    """
    if not _in_main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if on_hold is not None:
            on_hold(signum)

    previous = {}
    for signum in HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: installed outside Python; leave it alone
            previous[signum] = handler
            signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])
