"""The journal format of issue 9: where to act is recorded with each revert; moot entries; crash debris."""

import json
from pathlib import Path

import pytest

from gameday.errors import ConfigError
from gameday.faults.journal import RollbackJournal

REF = {"name": "aws", "region": "eu-west-1", "endpoint_url": None, "account": "123456789012"}


def test_record_keeps_where_to_act_and_when(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    journal.record("deny-bucket-policy", "b", "s3.restore-bucket-policy", {"bucket": "b"}, "restore", backend=REF)

    (entry,) = RollbackJournal(journal.path).entries()
    line = json.loads(journal.path.read_text())
    assert entry.backend == REF and entry.recorded_at is not None
    assert set(line) == {"op", "id", "fault", "target", "revert", "description", "backend", "at"}


def test_lines_from_before_issue_9_still_read(tmp_path: Path) -> None:
    path = tmp_path / "rollback.jsonl"
    path.write_text('{"op": "record", "id": "a1", "fault": "f", "target": "t", '
                    '"revert": {"kind": "none", "params": {}}, "description": ""}\n')

    (entry,) = RollbackJournal(path).unfinished()
    assert entry.backend == {} and entry.recorded_at is None


def test_moot_closes_an_entry_and_keeps_the_reason(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    entry_id = journal.record("f", "t", "none", {})
    journal.mark_moot(entry_id, "localcloud is gone")

    assert journal.unfinished() == []
    assert journal.entries()[0].state == "moot" and journal.entries()[0].error == "localcloud is gone"


def test_a_line_appended_after_a_torn_one_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "rollback.jsonl"
    journal = RollbackJournal(path)
    first = journal.record("f", "t1", "none", {})
    with path.open("a") as handle:
        handle.write('{"op": "reverted", "id": "' + first[:5])  # died mid-write
    journal.mark_reverted(first, by="rollback")

    assert journal.unfinished() == []


@pytest.mark.parametrize("line", ['[1, 2]', '{"op": "record", "id": 7}', 'not json', '\x00\x01',
                                  '{"op": "record", "id": "x", "fault": "f", "target": "t", '
                                  '"revert": {"kind": 3, "params": {}}}',
                                  '{"op": "reverted", "id": "nobody"}', "[" * 100_000 + "]" * 100_000])
def test_a_line_that_is_not_a_journal_line_is_reported_with_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "rollback.jsonl"
    journal = RollbackJournal(path)
    journal.record("f", "t", "none", {})
    with path.open("a") as handle:
        handle.write(line + "\n")

    with pytest.raises(ConfigError, match=f"journal {path} line 2: "):
        journal.entries()
