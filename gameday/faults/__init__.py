"""Faults: break a stack on purpose, with the revert journalled before the break."""

from gameday.faults.base import Fault, RevertAction, injected
from gameday.faults.journal import JournalEntry, RollbackJournal
from gameday.faults.reverts import run_revert

__all__ = ["Fault", "JournalEntry", "RevertAction", "RollbackJournal", "injected", "run_revert"]
