"""Replay a rollback journal: run every unfinished revert, newest first, and close it in the journal.

Needs nothing but the journal and a way to reconnect to where each fault was injected (`connect`).
A journal is data anyone could have written, so a revert is guarded like a fault: every backend is
connected (and its account checked), then every revert's live targets are read and put through the
backend's blast-radius guard and the identity recorded at inject, all before anything is reverted. A
refused line changes nothing and stays in the journal. Reverts are idempotent: replaying twice is harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gameday import guards
from gameday.backends.base import Backend
from gameday.errors import BackendError, ConfigError
from gameday.faults.identity import IdentityRefused
from gameday.faults.journal import JournalEntry, RollbackJournal
from gameday.faults.plan import FaultPlan, RevertAction
from gameday.faults.reverts import revert_targets, run_revert
from gameday.faults.signals import deferred_signals
from gameday.guards import Refused

log = logging.getLogger(__name__)

Connect = Callable[[Mapping[str, Any]], Backend]


@dataclass(frozen=True)
class ReplayOutcome:
    entry: JournalEntry
    status: str  # reverted | failed | moot | refused (guard or identity: nothing done) | would-revert (dry run)
    message: str

    def line(self) -> str:
        return f"{self.status}: {self.entry.fault} on {self.entry.target} ({self.entry.entry_id}): {self.message}"


def _ref_key(ref: Mapping[str, Any]) -> str:
    return json.dumps(dict(ref), sort_keys=True, default=str)


def replay(journal: RollbackJournal, connect: Connect, *, dry_run: bool = False) -> list[ReplayOutcome]:
    entries = list(reversed(journal.unfinished()))  # undo in the reverse order of injection
    if dry_run:
        return [ReplayOutcome(e, "would-revert", e.description or e.revert_kind) for e in entries]
    backends: dict[str, Backend | BackendError] = {}
    for entry in entries:  # connect (and pass the account guard) everywhere before changing anything
        key = _ref_key(entry.backend)
        if key not in backends:
            try:
                backends[key] = connect(entry.backend)
            except BackendError as exc:
                backends[key] = exc
    vetted = {e.entry_id: _vet(journal, e, backends[_ref_key(e.backend)]) for e in entries}  # before any revert
    outcomes = [vetted[entry.entry_id] or _replay_one(journal, entry, backends[_ref_key(entry.backend)])
                for entry in entries]
    for backend in {id(b): b for b in backends.values() if not isinstance(b, BackendError)}.values():
        backend.close()
    return outcomes


def _replay_one(journal: RollbackJournal, entry: JournalEntry, backend: Backend | BackendError) -> ReplayOutcome:
    if isinstance(backend, BackendError):
        if entry.backend.get("name") == "localcloud":
            reason = (f"localcloud at {entry.backend.get('endpoint_url')} is gone, and the fault's state went with "
                      "it: nothing left to revert")
            journal.mark_moot(entry.entry_id, reason)
            return ReplayOutcome(entry, "moot", reason)
        journal.mark_failed(entry.entry_id, str(backend))
        return ReplayOutcome(entry, "failed", str(backend))
    with deferred_signals():
        try:
            run_revert(backend, entry.revert_kind, entry.revert_params)
        except IdentityRefused as exc:  # recreated between the check and the revert: still not ours
            return ReplayOutcome(entry, "refused", _reason(exc))
        except Exception as exc:
            message = " ".join(str(exc).split())
            journal.mark_failed(entry.entry_id, message)
            log.debug("revert %s failed", entry.entry_id, exc_info=True)
            return ReplayOutcome(entry, "failed", message)
        journal.mark_reverted(entry.entry_id, by="rollback")
    return ReplayOutcome(entry, "reverted", entry.description or entry.revert_kind)


def _vet(journal: RollbackJournal, entry: JournalEntry, backend: Backend | BackendError) -> ReplayOutcome | None:
    """None when `entry` may be replayed; otherwise why not: `refused` (left pending in the journal) or
    `failed` (its parameters cannot be read: marked failed). Changes nothing else.

    An aws journal's revert targets must lie in the blast radius the journal records (the run's stacks
    and exact run tag, or the stacks it named) and be the resources the fault touched. A localcloud is
    disposable and on loopback: its reverts are checked for identity only, as they run."""
    if isinstance(backend, BackendError) or entry.backend.get("name") == "localcloud":
        return None
    guard = getattr(backend, "target_guard", None)
    if guard is None:
        return ReplayOutcome(entry, "refused", f"the {backend.name} backend has no blast-radius guard")
    try:
        targets = revert_targets(backend, entry.revert_kind, entry.revert_params)
        if targets:
            guard.check(FaultPlan(f"the revert of {entry.fault}", targets, entry.description,
                                  RevertAction(entry.revert_kind, entry.revert_params)))
    except (Refused, IdentityRefused) as exc:
        return ReplayOutcome(entry, "refused", _reason(exc))
    except ConfigError as exc:  # an unknown kind, or parameters the targets cannot be read from
        journal.mark_failed(entry.entry_id, guards.one_line(exc))
        return ReplayOutcome(entry, "failed", guards.one_line(exc))
    except Exception as exc:  # the backend failed while reading: not safe to act on what it would not show
        log.debug("vetting %s failed", entry.entry_id, exc_info=True)
        return ReplayOutcome(entry, "refused", f"cannot read what the revert would touch: {guards.one_line(exc)}")
    return None


def _reason(refusal: Exception) -> str:
    """A guard's one-line refusal without its "refused: " (the outcome line starts with the status)."""
    return guards.one_line(refusal).removeprefix("refused: ")
