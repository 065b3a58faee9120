"""Replay a rollback journal: run every unfinished revert, newest first, and close it in the journal.

Needs nothing but the journal and a way to reconnect to where each fault was injected (`connect`).
Every backend is connected (and its account checked) before anything is reverted, so a refusal
changes nothing. Reverts are idempotent: replaying twice, or after a partial replay, is harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gameday.backends.base import Backend
from gameday.errors import BackendError
from gameday.faults.journal import JournalEntry, RollbackJournal
from gameday.faults.reverts import run_revert
from gameday.faults.signals import deferred_signals

log = logging.getLogger(__name__)

Connect = Callable[[Mapping[str, Any]], Backend]


@dataclass(frozen=True)
class ReplayOutcome:
    entry: JournalEntry
    status: str  # reverted | failed | moot | would-revert (dry run)
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
    outcomes = [_replay_one(journal, entry, backends[_ref_key(entry.backend)]) for entry in entries]
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
        except Exception as exc:
            message = " ".join(str(exc).split())
            journal.mark_failed(entry.entry_id, message)
            log.debug("revert %s failed", entry.entry_id, exc_info=True)
            return ReplayOutcome(entry, "failed", message)
        journal.mark_reverted(entry.entry_id, by="rollback")
    return ReplayOutcome(entry, "reverted", entry.description or entry.revert_kind)
