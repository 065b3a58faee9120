"""play(): a scenario stopped by Ctrl-C or SIGTERM is in the report as `not run`, saying by which signal and
in which phase (the deploy, steady state, the fault with what its revert did), and the interrupt goes on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from gameday.clock import FakeClock
from gameday.faults.journal import RollbackJournal
from gameday.kits.kit import Deployment, ScenarioSpec
from gameday.kits.play import Deployments, play
from gameday.reports import RunReport
from gameday.run import RunPaths
from gameday.scenario import ScenarioResult, Verdict
from gameday.session import GameDay
from localcloud import profiles


class _Backend:
    name, profile, region = "localcloud", "fast", "us-east-1"


class _Kit:
    def __init__(self, deploy: Callable[[], None]) -> None:
        self._deploy = deploy

    def deploy(self, ctx: object, deployment: str) -> Deployment:
        self._deploy()
        return Deployment("stack", {})

    def delete(self, ctx: object, deployment: Deployment) -> None:
        pass


class _Kits:
    def __init__(self, kit: _Kit) -> None:
        self.kit = kit

    def get(self, stack_id: str) -> _Kit:
        return self.kit


def _game(tmp_path: Path) -> GameDay:
    clock = FakeClock()
    return GameDay(cast(Any, _Backend()), profiles.load("fast"), RunPaths.create("playtest", tmp_path),
                   RunReport("playtest", "localcloud", "fast", clock.now()), clock)


def _play(tmp_path: Path, run: Callable[[GameDay, Deployment, ScenarioSpec], Sequence[ScenarioResult]],
          deploy: Callable[[], None] = lambda: None) -> GameDay:
    game = _game(tmp_path)
    spec = ScenarioSpec("stack/one", "stack", "one scenario", (), run)
    with pytest.raises(KeyboardInterrupt):
        play(game, spec, Deployments(cast(Any, _Kits(_Kit(deploy))), lambda stack_id: cast(Any, None)))
    return game


def _interrupt(*args: object) -> None:
    raise KeyboardInterrupt(*args)


def test_ctrl_c_during_the_deploy(tmp_path: Path) -> None:
    game = _play(tmp_path, run=lambda *_: [], deploy=_interrupt)

    [result] = game.report.scenarios
    assert result.verdict is Verdict.NOT_RUN
    assert result.message == "interrupted by SIGINT during the deploy"


def test_ctrl_c_before_any_fault_is_steady_state(tmp_path: Path) -> None:
    def run(*_: object) -> Sequence[ScenarioResult]:
        raise KeyboardInterrupt

    game = _play(tmp_path, run)

    assert [r.message for r in game.report.scenarios] == ["interrupted by SIGINT during steady state "
                                                          "(no fault injected)"]


def test_sigterm_mid_fault_says_what_the_revert_did(tmp_path: Path) -> None:
    def run(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> Sequence[ScenarioResult]:
        journal = RollbackJournal(game.paths.journal)
        journal.mark_reverted(journal.record("terminate-instance", "i-1", "none", {}))
        journal.record("block-az-nacl", "subnet-2", "none", {})  # its revert was cut: gameday rollback's
        raise KeyboardInterrupt("SIGTERM")  # as fixtures/backend.py's SIGTERM handler raises it

    game = _play(tmp_path, run)

    [result] = game.report.scenarios
    assert result.message == ("interrupted by SIGTERM during the fault (terminate-instance on i-1 reverted; "
                              "block-az-nacl on subnet-2 NOT reverted: pending; "
                              f"`gameday rollback --journal {game.paths.journal}` finishes it)")
