from pathlib import Path

from gameday.faults.journal import RollbackJournal


def test_recorded_entry_is_pending_until_reverted(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "run" / "rollback.jsonl")
    entry = journal.record("terminate-instance", "i-1", "asg.restore-capacity", {"group": "g"}, "back to 1")

    assert [e.entry_id for e in journal.unfinished()] == [entry]
    journal.mark_reverted(entry)
    assert journal.unfinished() == []
    assert journal.entries()[0].state == "reverted"


def test_failed_revert_stays_unfinished(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    entry = journal.record("f", "t", "none", {})
    journal.mark_failed(entry, "boom")

    (left,) = journal.unfinished()
    assert (left.entry_id, left.state) == (entry, "failed")


def test_torn_last_line_from_a_crash_keeps_earlier_entries(tmp_path: Path) -> None:
    path = tmp_path / "rollback.jsonl"
    journal = RollbackJournal(path)
    first = journal.record("f", "t1", "none", {"a": 1})
    with path.open("a") as handle:
        handle.write('{"op": "record", "id": "x", "fau')  # the process died mid-write

    assert [e.entry_id for e in RollbackJournal(path).unfinished()] == [first]


def test_revert_params_round_trip(tmp_path: Path) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    journal.record("terminate-instance", "i-9", "asg.restore-capacity",
                   {"group": "web", "min": 1, "max": 1, "desired": 1}, "group back")

    (entry,) = RollbackJournal(journal.path).entries()
    assert entry.revert_params == {"group": "web", "min": 1, "max": 1, "desired": 1}
    assert entry.revert_kind == "asg.restore-capacity"
