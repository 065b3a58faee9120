"""The live progress line of `gameday run`: one line per scenario, from the children's progress files.

A child appends one JSON line per second while it watches a scenario (phase reached, samples, errors);
with several stacks at once their lines interleave, so each names its scenario, and a scenario gets a
new line when its phase changes or every `REPEAT_S` seconds, not every second.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

REPEAT_S = 5.0


class ProgressBoard:
    def __init__(self, folder: Path, out: IO[str]) -> None:
        self.folder, self.out = folder, out
        self.offsets: dict[Path, int] = {}
        self.shown: dict[str, tuple[str, float]] = {}  # scenario -> (phase shown, when)

    def update(self) -> None:
        for path in sorted(self.folder.glob("*.progress.jsonl")):
            for line in self._new_lines(path):
                self._show(line)

    def _new_lines(self, path: Path) -> list[dict[str, Any]]:
        with path.open() as stream:
            stream.seek(self.offsets.get(path, 0))
            text = stream.read()
        complete = text[:text.rfind("\n") + 1]
        self.offsets[path] = self.offsets.get(path, 0) + len(complete.encode())
        lines = []
        for raw in complete.splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return lines

    def _show(self, line: dict[str, Any]) -> None:
        key = f"{line['stack']}/{line['scenario']}"
        phase, shown_at = self.shown.get(key, ("", 0.0))
        now = time.monotonic()
        if line["phase"] == phase and now - shown_at < REPEAT_S:
            return
        self.shown[key] = (line["phase"], now)
        self.out.write(f"  {key}: +{line['since_fault_s']:.0f} s after the fault, phase {line['phase']}, "
                       f"{line['samples']} samples, {line['errors']} errors\n")
        self.out.flush()
