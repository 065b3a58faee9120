"""`injected()`'s revert under a second Ctrl-C: held until the revert is journalled, or, when the revert is cut
anyway, one line naming what is left and the journal for `gameday rollback`."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gameday.clock import SystemClock
from gameday.faults import FaultPlan, RevertAction, Target, injected
from gameday.faults.journal import RollbackJournal
from gameday.timeline import Timeline


@dataclass
class _Backend:
    """Only what `injected` reads of a backend: a revert of kind `none` calls nothing on it."""

    name: str = "localcloud"
    region: str = "us-east-1"
    endpoint_url: str | None = None


@dataclass
class _Fault:
    """A fault whose `stop` (called first thing in the revert) does what the test says."""

    on_stop: Callable[[], None]
    name: str = "terminate-instance"
    target: str = "i-0abc"
    injected_at: list[str] = field(default_factory=list)

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, (Target("ec2:instance", self.target),), "terminate it",
                         RevertAction("none", {}, "nothing to put back"))

    def inject(self) -> None:
        self.injected_at.append(self.target)

    def stop(self) -> None:
        self.on_stop()


def _inject(fault: _Fault, journal: RollbackJournal) -> None:
    clock = SystemClock()
    with injected(fault, backend=_Backend(), journal=journal, timeline=Timeline.begin("t", clock),  # type: ignore[arg-type]
                  clock=clock):
        raise KeyboardInterrupt  # the first Ctrl-C, mid-fault


def test_a_second_ctrl_c_during_the_revert_is_held_until_it_is_journalled(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    fault = _Fault(lambda: os.kill(os.getpid(), signal.SIGINT))

    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        _inject(fault, journal)

    assert [e.state for e in journal.entries()] == ["reverted"]
    assert "SIGINT while reverting terminate-instance on i-0abc: finishing the revert first" in caplog.text


def test_a_revert_cut_anyway_says_what_is_left_and_the_journal(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")

    def cut() -> None:
        raise KeyboardInterrupt  # as a signal landing before the handlers are in place would

    with caplog.at_level(logging.ERROR), pytest.raises(KeyboardInterrupt):
        _inject(_Fault(cut), journal)

    assert [e.state for e in journal.entries()] == ["pending"]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert lines == [f"revert of terminate-instance on i-0abc interrupted: it is still pending; "
                     f"`gameday rollback --journal {journal.path}` finishes it"]
