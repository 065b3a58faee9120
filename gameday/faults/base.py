"""The `Fault` seam and the one way to inject: plan, guard, journal the revert, inject, always revert."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.errors import FaultError, RevertFailed
from gameday.faults.journal import RollbackJournal
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.reverts import run_revert
from gameday.faults.signals import deferred_signals
from gameday.timeline import Event, Timeline

log = logging.getLogger(__name__)

__all__ = ["Fault", "FaultPlan", "RevertAction", "Target", "TargetGuard", "backend_ref", "injected"]


class Fault(Protocol):
    name: str  # e.g. "terminate-instance"

    @property
    def target(self) -> str:
        """The resource(s) the fault acts on, in a few words (known after `plan`)."""

    def plan(self) -> FaultPlan:
        """Find the targets and read the state to restore. Changes nothing."""

    def inject(self) -> None:
        """Break it, as planned by the last `plan()`."""


class TargetGuard(Protocol):
    def check(self, plan: FaultPlan) -> None:
        """Raise a one-line refusal when a target lies outside what this run may touch."""


def backend_ref(backend: Backend) -> dict[str, Any]:
    """Where a revert must act, for the journal: enough for `gameday rollback` to reconnect."""
    options = getattr(backend, "options", None)  # the aws backend's: what its blast radius was at inject
    return {"name": backend.name, "region": backend.region,
            "endpoint_url": backend.endpoint_url, "account": getattr(backend, "account_id", None),
            "run_id": getattr(options, "run_id", None),
            "existing_stacks": ",".join(getattr(options, "existing_stacks", ()) or ()) or None}  # names hold no ","


@contextmanager
def injected(fault: Fault, *, backend: Backend, journal: RollbackJournal, timeline: Timeline,
             clock: Clock, guard: TargetGuard | None = None) -> Iterator[float]:
    """Inject `fault` for the duration of the block; yields the inject time (epoch seconds).

    The targets pass the guard (by default the backend's own, which the aws backend always has) before
    anything is written or changed. The revert is written (fsync) to the journal before the fault is
    injected and runs in `finally`, whatever ends the block: success, a failed assertion, an exception,
    Ctrl-C or SIGTERM (see `signals.interrupt_on_sigterm`).
    """
    plan = fault.plan()
    guard = guard if guard is not None else getattr(backend, "target_guard", None)
    if guard is None and backend.name == "aws":
        raise FaultError(f"{fault.name}: the aws backend has no blast-radius guard; refusing", fault=fault.name)
    if guard is not None:
        guard.check(plan)
    revert = plan.revert
    entry_id = journal.record(fault.name, fault.target, revert.kind, dict(revert.params), revert.description,
                              backend=backend_ref(backend))
    inject_at = clock.now()
    timeline.add_event(Event(inject_at, "fault.inject", "gameday", fault.target,
                             {"fault": fault.name, "revert": revert.description, "action": plan.action,
                              "targets": [t.describe() for t in plan.targets]}))
    try:
        try:
            fault.inject()
        except Exception as exc:
            raise FaultError(f"{fault.name} on {fault.target} failed: {exc}", fault=fault.name,
                             target=fault.target) from exc
        yield inject_at
    finally:
        _revert_to_the_end(fault, revert, entry_id, backend=backend, journal=journal, timeline=timeline, clock=clock)


def _revert_to_the_end(fault: Fault, revert: RevertAction, entry_id: str, *, backend: Backend,
                       journal: RollbackJournal, timeline: Timeline, clock: Clock) -> None:
    """The revert, with Ctrl-C and SIGTERM held until it is done (each one held says so). Should it be cut
    anyway (SIGINT before the handlers are in place, a handler set outside Python), one line says what is
    left and which journal `gameday rollback` replays: a revert is never abandoned silently."""
    where = f"{fault.name} on {fault.target}"

    def finishing(signum: int) -> None:
        log.warning("%s while reverting %s: finishing the revert first (journal %s)",
                    signal.Signals(signum).name, where, journal.path)

    try:
        with deferred_signals(on_hold=finishing):
            stop = getattr(fault, "stop", None)  # a fault with later steps (capacity-thrash) takes no more
            if callable(stop):
                stop()
            _revert(fault, revert, entry_id, backend=backend, journal=journal, timeline=timeline, clock=clock)
    except (KeyboardInterrupt, SystemExit):
        if not _closed(journal, entry_id):
            log.error("revert of %s interrupted: it is still pending; `gameday rollback --journal %s` finishes it",
                      where, journal.path)
        raise


def _closed(journal: RollbackJournal, entry_id: str) -> bool:
    try:
        return any(e.entry_id == entry_id and e.state != "pending" for e in journal.entries())
    except Exception:  # noqa: BLE001 - an unreadable journal: say the revert is pending, the safe side
        return False


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
