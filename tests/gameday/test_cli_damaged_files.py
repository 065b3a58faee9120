"""Damaged files given to `gameday report`, `analyze` and `rollback`: one line naming the file (and line), exit 2,
never a traceback; a scan of reports/ still replays the journals that are whole. Through `python -m gameday`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.faults.journal import RollbackJournal
from gameday.reports import RunReport, write_outputs
from tests.gameday.scenario_data import scenario

ROOT = Path(__file__).resolve().parents[2]
DEEP = "[" * 100_000 + "]" * 100_000
GONE = {"name": "localcloud", "region": "us-east-1", "endpoint_url": "http://127.0.0.1:9", "account": None}


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def one_line_exit_2(done: subprocess.CompletedProcess[str], *names: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert all(name in done.stderr for name in names), done.stderr
    return done.stderr


@pytest.mark.parametrize("content", [b"\x89garbage\xff", b"not json", b"[]", b'{"schema": 2}', b'{"schema": 3}',
                                     DEEP.encode(), b'{"schema": 2, "run_id": "r-1", "backend": "localcloud", '
                                     b'"profile": "fast", "started_at": 1, "scenarios": [{"stack": 1}]}'])
def test_a_damaged_report_is_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / "report.json").write_bytes(content)

    one_line_exit_2(gameday("report", "run-1", "--report-dir", str(tmp_path)), "report.json")
    assert sorted(p.name for p in (tmp_path / "run-1").iterdir()) == ["report.json"]  # nothing rendered
    assert not (tmp_path / "history.jsonl").exists()


def test_a_whole_report_still_renders(tmp_path: Path) -> None:
    run = RunReport("run-ok", "localcloud", "fast", started_at=1.0)
    run.scenarios.append(scenario())
    write_outputs(run.to_dict(), tmp_path)

    done = gameday("report", "run-ok", "--report-dir", str(tmp_path))

    assert done.returncode == 0, done.stderr
    assert "HTML report:" in done.stdout


@pytest.mark.parametrize("content", [b"[1,2,3]", b"\x00\xfe garbage", DEEP.encode(), b'{"schema": 1}',
                                     b'{"schema": 1, "run_id": "r", "origin_at": 0, "samples": [{"probe": 1}]}'])
def test_a_damaged_timeline_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "timeline.json"
    path.write_bytes(content)

    one_line_exit_2(gameday("analyze", str(path)), str(path))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_fault_at_must_be_finite(tmp_path: Path, value: str) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"schema": 1, "run_id": "r", "origin_at": 0.0, "samples": [], "events": []}))

    one_line_exit_2(gameday("analyze", str(path), f"--fault-at={value}"), "--fault-at must be a finite number")


DAMAGED_LINES = {"random bytes": bytes(range(256)) * 4, "deeply nested": DEEP.encode(),
                 "JSON but not an entry": b'{"op": "record", "id": "x", "fault": "f"}',
                 "a JSON list": b"[1, 2, 3]"}


@pytest.mark.parametrize("line", DAMAGED_LINES.values(), ids=DAMAGED_LINES.keys())
def test_a_damaged_journal_named_with_journal_is_refused(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "rollback.jsonl"
    RollbackJournal(path).record("terminate-instance", "i-1", "asg.restore-capacity", {"group": "g"}, backend=GONE)
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    before = path.read_bytes()

    one_line_exit_2(gameday("rollback", "--journal", str(path)), f"journal {path} line 2")
    assert path.read_bytes() == before  # nothing replayed, nothing closed


def test_a_journal_of_random_bytes_is_not_nothing_to_roll_back(tmp_path: Path) -> None:
    path = tmp_path / "run-1" / "rollback.jsonl"
    path.parent.mkdir()
    path.write_bytes(os.urandom(4096).replace(b"\n", b"\x00"))

    done = gameday("rollback", "--report-dir", str(tmp_path))

    assert done.returncode == 2 and "nothing to roll back" not in done.stdout
    assert f"journal {path} line 1" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("line", DAMAGED_LINES.values(), ids=DAMAGED_LINES.keys())
def test_a_scan_reports_the_damaged_journal_and_replays_the_others(tmp_path: Path, line: bytes) -> None:
    damaged = tmp_path / "run-a" / "rollback.jsonl"
    damaged.parent.mkdir()
    damaged.write_bytes(line + b"\n")
    whole = RollbackJournal(tmp_path / "run-b" / "rollback.jsonl")
    whole.record("terminate-instance", "i-1", "asg.restore-capacity",
                 {"group": "g", "min": 1, "max": 1, "desired": 1}, backend=GONE)  # its localcloud is gone: moot

    done = gameday("rollback", "--report-dir", str(tmp_path))

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"journal {damaged} line 1" in done.stderr
    assert "1 damaged journal(s) not replayed" in done.stderr and "1 other journal(s) replayed" in done.stderr
    assert whole.unfinished() == []  # the whole journal was replayed all the same
