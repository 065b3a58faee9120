"""Run identity and folders: one run id per game day, its report folder and rollback journal."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import ConfigError

RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,40}")  # fullmatch: `$` would let a trailing newline through


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    """A run id names a folder and tags every resource of the run: checked before anything starts."""
    if not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"run id {run_id[:60]!r} must be 3-41 lowercase letters, digits or hyphens, starting "
                          "with a letter or digit")
    return run_id


@dataclass(frozen=True)
class RunPaths:
    run_id: str
    reports_dir: Path

    @classmethod
    def create(cls, run_id: str | None, reports_dir: Path) -> RunPaths:
        run_id = check_run_id(run_id) if run_id else new_run_id()
        paths = cls(run_id, reports_dir)
        try:
            paths.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create report folder {paths.folder}: {exc.strerror}") from exc
        return paths

    @property
    def folder(self) -> Path:
        return self.reports_dir / self.run_id

    @property
    def journal(self) -> Path:
        return self.folder / "rollback.jsonl"
