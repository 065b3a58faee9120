"""Rollback journal: every revert is on disk (fsync) before its fault is injected.

One JSON object per line. `record` lines hold the revert and where to act (backend name, region,
endpoint, account), so `gameday rollback` needs nothing but the journal; `reverted`/`failed`/`moot`
lines close them. An entry recorded but never reverted is what `gameday rollback` replays after a crash.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CLOSING_OPS = {"reverted": "reverted", "failed": "failed", "moot": "moot"}


@dataclass(frozen=True)
class JournalEntry:
    entry_id: str
    fault: str
    target: str
    revert_kind: str
    revert_params: Mapping[str, Any]
    description: str
    state: str  # pending | reverted | failed | moot (nothing left to revert: the backend is gone)
    backend: Mapping[str, Any] = field(default_factory=dict)  # name, region, endpoint_url, account
    recorded_at: float | None = None
    error: str = ""


class RollbackJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, fault: str, target: str, revert_kind: str, revert_params: Mapping[str, Any],
               description: str = "", *, backend: Mapping[str, Any] | None = None) -> str:
        entry_id = uuid.uuid4().hex[:12]
        self._append({"op": "record", "id": entry_id, "fault": fault, "target": target,
                      "revert": {"kind": revert_kind, "params": dict(revert_params)},
                      "description": description, "backend": dict(backend or {}), "at": time.time()})
        return entry_id

    def mark_reverted(self, entry_id: str, *, by: str = "") -> None:
        self._append({"op": "reverted", "id": entry_id, **({"by": by} if by else {})})

    def mark_failed(self, entry_id: str, error: str) -> None:
        self._append({"op": "failed", "id": entry_id, "error": error})

    def mark_moot(self, entry_id: str, reason: str) -> None:
        self._append({"op": "moot", "id": entry_id, "error": reason})

    def entries(self) -> list[JournalEntry]:
        if not self.path.exists():
            return []
        records: dict[str, dict[str, Any]] = {}
        states: dict[str, tuple[str, str]] = {}
        for line in self.path.read_text(errors="replace").splitlines():
            item = _parse(line)
            if item is None:
                continue  # a line torn by a crash mid-write; the fsync'd lines before it stand
            if item.get("op") == "record":
                records[item["id"]] = item
                states.setdefault(item["id"], ("pending", ""))
            elif item.get("op") in _CLOSING_OPS and item.get("id") in records:
                states[item["id"]] = (_CLOSING_OPS[item["op"]], str(item.get("error", "")))
        return [JournalEntry(i, str(r["fault"]), str(r["target"]), str(r["revert"]["kind"]),
                             r["revert"]["params"], str(r.get("description", "")), states[i][0],
                             r.get("backend") or {}, r.get("at"), states[i][1])
                for i, r in records.items()]

    def unfinished(self) -> list[JournalEntry]:
        """Entries whose revert has not succeeded (pending or failed)."""
        return [e for e in self.entries() if e.state in ("pending", "failed")]

    def _append(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, sort_keys=True) + "\n").encode()
        with self._lock:
            created = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # end a line torn by a crash, so this one stays readable
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


def _parse(line: str) -> dict[str, Any] | None:
    """One journal line, or None when it is torn or not a journal line at all."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    if item.get("op") == "record":
        revert = item.get("revert")
        if not (isinstance(revert, dict) and isinstance(revert.get("kind"), str)
                and isinstance(revert.get("params"), dict) and "fault" in item and "target" in item):
            return None
        if not isinstance(item.get("backend", {}), dict):
            return None
    return item
