import os
import signal

import pytest

from gameday.faults.signals import deferred_signals, interrupt_on_sigterm


def test_sigterm_becomes_keyboard_interrupt_inside_the_block_only() -> None:
    before = signal.getsignal(signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        with interrupt_on_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)

    assert signal.getsignal(signal.SIGTERM) == before


def test_a_signal_during_a_revert_waits_until_the_revert_is_done() -> None:
    finished = []

    with pytest.raises(KeyboardInterrupt):
        with interrupt_on_sigterm():
            with deferred_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                finished.append("revert done")  # not cut short by the signal

    assert finished == ["revert done"]


def test_no_signal_no_interrupt() -> None:
    with interrupt_on_sigterm(), deferred_signals():
        pass
