"""Reverts run on success, on SIGTERM and on SIGINT by themselves: no `gameday rollback` needed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.faults.journal import RollbackJournal
from tests.integration.test_aws_sandbox import World, build_world, differences, moto_server, snapshot
from tests.integration.test_rollback_sigkill import Runner

pytestmark = pytest.mark.integration

REGION = "il-central-1"
ALL_INJECTED = 6


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    with moto_server() as url:
        yield url, build_world(url, REGION, "signals")


def test_runner_that_ends_normally_reverts_everything(sandbox: tuple[str, World], tmp_path: Path) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    journal = tmp_path / "rollback.jsonl"

    runner = Runner(url, world, journal, hold_s=0.1)
    code, stderr = runner.finish()

    assert code == 0, stderr[-2000:]
    states = [e.state for e in RollbackJournal(journal).entries()]
    assert states == ["reverted"] * ALL_INJECTED
    assert snapshot(url, world) == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_fault_reverts_before_exit(signum: int, sandbox: tuple[str, World], tmp_path: Path) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    journal = tmp_path / "rollback.jsonl"

    runner = Runner(url, world, journal, hold_s=60.0)
    try:
        assert runner.wait_for_step(ALL_INJECTED)
        broken = snapshot(url, world)
        runner.proc.send_signal(signum)
    finally:
        code, stderr = runner.finish()

    assert code == 130, stderr[-2000:]
    assert len(differences(before, broken)) >= 5  # the faults were really in place
    assert [e.state for e in RollbackJournal(journal).entries()] == ["reverted"] * ALL_INJECTED
    assert snapshot(url, world) == before
