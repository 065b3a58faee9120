"""The live progress line of `gameday run`: one line per scenario when its phase changes."""

from __future__ import annotations

import io
import json
from pathlib import Path

from gameday.cli.progress import ProgressBoard


def write(path: Path, **line: object) -> None:
    with path.open("a") as stream:
        stream.write(json.dumps({"stack": "eip-self-healing", "scenario": "terminate-instance",
                                 "since_fault_s": 1.0, "samples": 10, "errors": 2, **line}) + "\n")


def test_a_line_per_phase_change_not_per_update(tmp_path: Path) -> None:
    out = io.StringIO()
    board = ProgressBoard(tmp_path, out)
    progress = tmp_path / "eip-self-healing.progress.jsonl"
    write(progress, phase="fault")
    write(progress, phase="fault")
    board.update()
    write(progress, phase="detection", since_fault_s=7.0)
    with progress.open("a") as stream:
        stream.write('{"stack": "torn')  # a line the child is still writing
    board.update()

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == ("  eip-self-healing/terminate-instance: +7 s after the fault, phase detection, "
                        "10 samples, 2 errors")


def test_stacks_in_parallel_each_get_their_line(tmp_path: Path) -> None:
    out = io.StringIO()
    board = ProgressBoard(tmp_path, out)
    write(tmp_path / "a.progress.jsonl", stack="a", phase="fault")
    write(tmp_path / "b.progress.jsonl", stack="b", phase="fault")

    board.update()

    assert [line.split(":")[0].strip() for line in out.getvalue().splitlines()] == [
        "a/terminate-instance", "b/terminate-instance"]
