"""`gameday rollback` in-process against a moto server: replay, idempotence, dry run, refusals, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.faults import RollbackJournal, ScaleEcsService, backend_ref
from tests.integration.test_aws_sandbox import World, aws_backend, build_world, client, moto_server, set_aws_env

pytestmark = pytest.mark.integration

REGION = "me-central-1"
ALLOW = ("--allow-account", "123456789012")  # a journal's recorded account allows nothing by itself


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    with moto_server() as url:
        yield url, build_world(url, REGION, "cli-rollback")


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def desired(url: str, world: World) -> int:
    service = client(url, REGION, "ecs").describe_services(cluster=world.cluster, services=[world.service])
    return int(service["services"][0]["desiredCount"])


def crashed_mid_fault(url: str, world: World, journal: Path, account: str | None = None) -> None:
    """What a SIGKILLed runner leaves: the revert journalled, the fault injected, nothing reverted."""
    with aws_backend(url, REGION, world.run_id) as backend:
        fault = ScaleEcsService(backend, world.cluster, world.service, 0)
        plan = fault.plan()
        ref = {**backend_ref(backend), "account": account or "123456789012"}
        RollbackJournal(journal).record(fault.name, fault.target, plan.revert.kind, plan.revert.params,
                                        plan.revert.description, backend=ref)
        fault.inject()


def test_rollback_replays_from_the_journal_alone_then_finds_nothing(
        sandbox: tuple[str, World], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, world = sandbox
    journal = tmp_path / "run" / "rollback.jsonl"
    crashed_mid_fault(url, world, journal)
    assert desired(url, world) == 0

    first = main(["rollback", "--report-dir", str(tmp_path), *ALLOW])  # finds reports/*/rollback.jsonl by itself
    out = capsys.readouterr().out
    second = main(["rollback", "--journal", str(journal), *ALLOW])

    assert first == 0 and second == 0
    assert desired(url, world) == 3
    assert "reverted: scale-ecs-service" in out and "rolled back 1 fault(s) from 1 journal(s)" in out
    assert "nothing to roll back" in capsys.readouterr().out
    closing = json.loads(journal.read_text().splitlines()[-1])
    assert closing["op"] == "reverted" and closing["by"] == "rollback"


def test_dry_run_changes_nothing(sandbox: tuple[str, World], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url, world = sandbox
    journal = tmp_path / "rollback.jsonl"
    crashed_mid_fault(url, world, journal)
    try:
        code = main(["rollback", "--journal", str(journal), "--dry-run", *ALLOW])

        assert code == 0
        assert "would-revert: scale-ecs-service" in capsys.readouterr().out
        assert desired(url, world) == 0 and len(RollbackJournal(journal).unfinished()) == 1
    finally:
        main(["rollback", "--journal", str(journal), *ALLOW])


def test_journal_of_another_account_is_refused_and_nothing_changes(
        sandbox: tuple[str, World], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, world = sandbox
    journal = tmp_path / "rollback.jsonl"
    crashed_mid_fault(url, world, journal, account="111111111111")
    try:
        code = main(["rollback", "--journal", str(journal)])
        err = capsys.readouterr().err

        assert code == 2
        assert err.count("\n") == 1 and "refused: no account is allowed by the configuration" in err
        assert desired(url, world) == 0 and len(RollbackJournal(journal).unfinished()) == 1
        code = main(["rollback", "--journal", str(journal), "--allow-account", "222222222222"])
        assert code == 2 and "injected in account 111111111111" in capsys.readouterr().err
    finally:
        client(url, REGION, "ecs").update_service(cluster=world.cluster, service=world.service, desiredCount=3)


def test_a_failed_revert_stays_in_the_journal_and_exits_3(sandbox: tuple[str, World], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = sandbox
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    ref = {"name": "aws", "region": REGION, "endpoint_url": url, "account": "123456789012"}
    journal.record("scale-ecs-service", "svc", "ecs.restore-desired-count", {"cluster": "c"}, backend=ref)
    journal.record("mystery", "x", "no-such-revert", {}, backend=ref)

    code = main(["rollback", "--journal", str(journal.path), *ALLOW])
    captured = capsys.readouterr()

    assert code == 3
    assert "2 of 2 revert(s) failed" in captured.err and captured.err.count("\n") == 1
    assert "journal parameters are malformed" in captured.out and "unknown revert kind" in captured.out
    assert [e.state for e in journal.unfinished()] == ["failed", "failed"]


def test_localcloud_that_is_gone_leaves_nothing_to_revert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    journal.record("terminate-instance", "i-1", "asg.restore-capacity", {"group": "g", "min": 1, "max": 1,
                                                                          "desired": 1},
                   backend={"name": "localcloud", "region": "us-east-1", "endpoint_url": "http://127.0.0.1:9",
                            "account": None})

    code = main(["rollback", "--journal", str(journal.path)])

    assert code == 0
    assert "moot: terminate-instance on i-1" in capsys.readouterr().out
    assert journal.unfinished() == []


def test_missing_journal_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "--journal", str(tmp_path / "nope.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
