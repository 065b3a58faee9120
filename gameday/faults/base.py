"""The `Fault` seam and the one way to inject: journal the revert, inject, always revert."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.errors import FaultError, RevertFailed
from gameday.faults.journal import RollbackJournal
from gameday.faults.reverts import run_revert
from gameday.timeline import Event, Timeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevertAction:
    """How to undo a fault, as data: replayable by `gameday rollback` without the Fault object."""

    kind: str  # key in gameday.faults.reverts.REVERTS
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


class Fault(Protocol):
    name: str  # e.g. "terminate-instance"

    @property
    def target(self) -> str:
        """The resource the fault acts on (known after `prepare`)."""

    def prepare(self) -> RevertAction:
        """Find the target and read the state to restore. Changes nothing."""

    def inject(self) -> None:
        """Break it."""


@contextmanager
def injected(fault: Fault, *, backend: Backend, journal: RollbackJournal, timeline: Timeline,
             clock: Clock) -> Iterator[float]:
    """Inject `fault` for the duration of the block; yields the inject time (epoch seconds).

    The revert is written (fsync) to the journal before the fault is injected and runs in `finally`,
    whatever ends the block: success, a failed assertion, an exception, Ctrl-C.
    """
    revert = fault.prepare()
    entry_id = journal.record(fault.name, fault.target, revert.kind, dict(revert.params), revert.description)
    inject_at = clock.now()
    timeline.add_event(Event(inject_at, "fault.inject", "gameday", fault.target,
                             {"fault": fault.name, "revert": revert.description}))
    try:
        try:
            fault.inject()
        except Exception as exc:
            raise FaultError(f"{fault.name} on {fault.target} failed: {exc}", fault=fault.name,
                             target=fault.target) from exc
        yield inject_at
    finally:
        _revert(fault, revert, entry_id, backend=backend, journal=journal, timeline=timeline, clock=clock)


def _revert(fault: Fault, revert: RevertAction, entry_id: str, *, backend: Backend,
            journal: RollbackJournal, timeline: Timeline, clock: Clock) -> None:
    try:
        run_revert(backend, revert.kind, revert.params)
    except Exception as exc:
        journal.mark_failed(entry_id, str(exc))
        timeline.add_event(Event(clock.now(), "fault.revert_failed", "gameday", fault.target,
                                 {"fault": fault.name, "error": str(exc)}))
        raise RevertFailed(f"revert of {fault.name} on {fault.target} failed: {exc}; "
                           f"journal {journal.path} still holds it (gameday rollback)",
                           fault=fault.name, target=fault.target) from exc
    journal.mark_reverted(entry_id)
    timeline.add_event(Event(clock.now(), "fault.revert", "gameday", fault.target,
                             {"fault": fault.name, "revert": revert.description}))
    log.info("reverted %s on %s", fault.name, fault.target)
