"""Rollback journal: every revert is on disk (fsync) before its fault is injected.

One JSON object per line. `record` lines hold the revert; `reverted`/`failed` lines close them.
An entry recorded but never closed is what `gameday rollback` replays after a crash.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JournalEntry:
    entry_id: str
    fault: str
    target: str
    revert_kind: str
    revert_params: Mapping[str, Any]
    description: str
    state: str  # pending | reverted | failed


class RollbackJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, fault: str, target: str, revert_kind: str, revert_params: Mapping[str, Any],
               description: str = "") -> str:
        entry_id = uuid.uuid4().hex[:12]
        self._append({"op": "record", "id": entry_id, "fault": fault, "target": target,
                      "revert": {"kind": revert_kind, "params": dict(revert_params)},
                      "description": description})
        return entry_id

    def mark_reverted(self, entry_id: str) -> None:
        self._append({"op": "reverted", "id": entry_id})

    def mark_failed(self, entry_id: str, error: str) -> None:
        self._append({"op": "failed", "id": entry_id, "error": error})

    def entries(self) -> list[JournalEntry]:
        if not self.path.exists():
            return []
        records: dict[str, dict[str, Any]] = {}
        states: dict[str, str] = {}
        for line in self.path.read_text().splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write; the fsync'd lines before it stand
            if item.get("op") == "record":
                records[item["id"]] = item
                states.setdefault(item["id"], "pending")
            elif item.get("op") in ("reverted", "failed") and item.get("id") in records:
                states[item["id"]] = "reverted" if item["op"] == "reverted" else "failed"
        return [JournalEntry(i, r["fault"], r["target"], r["revert"]["kind"], r["revert"]["params"],
                             r.get("description", ""), states[i]) for i, r in records.items()]

    def unfinished(self) -> list[JournalEntry]:
        """Entries whose revert has not succeeded (pending or failed)."""
        return [e for e in self.entries() if e.state != "reverted"]

    def _append(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, sort_keys=True) + "\n").encode()
        with self._lock:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
