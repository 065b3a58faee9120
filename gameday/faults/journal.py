"""Rollback journal: every revert is on disk (fsync) before its fault is injected.

One JSON object per line. `record` lines hold the revert and where to act (backend name, region,
endpoint, account), so `gameday rollback` needs nothing but the journal; `reverted`/`failed`/`moot`
lines close them. An entry recorded but never reverted is what `gameday rollback` replays after a crash.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.jsonfile import loads, read_bytes

_CLOSING_OPS = {"reverted": "reverted", "failed": "failed", "moot": "moot"}
MAX_JOURNAL_BYTES = 64 * 2**20  # a run journals a few lines per fault


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
        """Every recorded revert and its state. A line torn by a crash mid-write is skipped (the fsync'd lines
        around it stand); any other line that is not a journal line raises ConfigError naming file and line:
        a damaged journal is not replayed, as what it would undo cannot be trusted."""
        if not self.path.exists():
            return []
        records: dict[str, dict[str, Any]] = {}
        states: dict[str, tuple[str, str]] = {}
        raw = read_bytes(self.path, max_bytes=MAX_JOURNAL_BYTES)
        for number, chunk in enumerate(raw.split(b"\n"), start=1):
            item = _parse(_decoded(chunk, f"journal {self.path} line {number}"), f"journal {self.path} line {number}")
            if item is None:
                continue
            if item["op"] == "record":
                records[item["id"]] = item
                states.setdefault(item["id"], ("pending", ""))
            elif item["id"] in records:
                states[item["id"]] = (_CLOSING_OPS[item["op"]], str(item.get("error", "")))
            else:
                raise ConfigError(f"journal {self.path} line {number}: closes entry {item['id'][:40]!r}, "
                                  "which no earlier line records")
        return [JournalEntry(i, r["fault"], r["target"], r["revert"]["kind"], r["revert"]["params"],
                             r.get("description", ""), states[i][0], r.get("backend") or {}, r.get("at"),
                             states[i][1])
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


def _parse(line: str, where: str) -> dict[str, Any] | None:
    """One journal line checked into shape, None for a blank or torn line; anything else is a ConfigError."""
    if not line.strip() or _torn(line):
        return None
    item = loads(line, where)
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: not a journal line (a JSON {type(item).__name__}, not an object)")
    problem = _shape_problem(item)
    if problem:
        raise ConfigError(f"{where}: not a journal line ({problem})")
    return item


def _shape_problem(item: Mapping[str, Any]) -> str:
    op = item.get("op")
    if op != "record" and op not in _CLOSING_OPS:
        return f"op {str(op)[:40]!r} is none of record, {', '.join(_CLOSING_OPS)}"
    if not isinstance(item.get("id"), str) or not item["id"]:
        return "no id"
    if op != "record":
        return "" if isinstance(item.get("error", ""), str) else "error is not a string"
    revert = item.get("revert")
    if not (isinstance(revert, dict) and isinstance(revert.get("kind"), str)
            and isinstance(revert.get("params"), dict)):
        return "its revert has no kind and params"
    for key in ("fault", "target"):
        if not isinstance(item.get(key), str):
            return f"{key} is not a string"
    if not isinstance(item.get("description", ""), str):
        return "description is not a string"
    backend = item.get("backend", {})
    if not isinstance(backend, dict) or not all(v is None or isinstance(v, str) for v in backend.values()):
        return "backend is not a mapping of names to strings"
    at = item.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at)):
        return "at is not a time"
    return ""


def _decoded(chunk: bytes, where: str) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start + 1})") from None


def _torn(line: str) -> bool:
    """The start of a line we wrote, cut by a crash: json.dumps writes ASCII objects, and a cut one ends inside
    a string or where a value or delimiter is still expected."""
    if not (line.startswith('{"') and line.isascii() and line.isprintable()):
        return False
    try:
        json.loads(line)
    except json.JSONDecodeError as exc:
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(line.rstrip())
    except (RecursionError, ValueError):
        return False
    return False
