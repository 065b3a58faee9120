"""Playing scenario specs: each kit deployment made once per session (or adopted) and deleted at its end,
the pre-flight before each scenario's fault, and a scenario that cannot run recorded as `not run` with its
reason, never as a pass."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from gameday.errors import GamedayError, SystemUnderTestFailed
from gameday.faults.journal import RollbackJournal
from gameday.kits import Kits
from gameday.kits.kit import DeployContext, Deployment, ScenarioSpec
from gameday.kits.preflight import after_deploy
from gameday.preflight import PreflightContext, PreflightRefused, refuse_if_failed
from gameday.reports.configuration import configuration
from gameday.scenario import ScenarioResult, Verdict
from gameday.session import GameDay
from gameday.stacks import DeployedStack

log = logging.getLogger(__name__)


class Deployments:
    """Every (stack, deployment) the session's scenarios need, made on first use and kept for the session.
    A failed deploy is remembered: the next scenario of that deployment is not run, for the same reason."""

    def __init__(self, kits: Kits, context: Callable[[str], DeployContext]) -> None:
        self.kits = kits
        self.context = context
        self._made: dict[tuple[str, str], Deployment] = {}
        self._failed: dict[tuple[str, str], GamedayError] = {}
        self._checked: set[tuple[str, str]] = set()  # deployments whose deployed configuration passed
        self._refused: dict[str, PreflightRefused] = {}  # a refused stack plays nothing more this session

    def get(self, spec: ScenarioSpec) -> Deployment:
        made = self._get(spec.stack_id, spec.deployment)
        if not spec.also:
            return made
        return replace(made, others={name: self._get(spec.stack_id, name) for name in spec.also})

    def _get(self, stack_id: str, name: str) -> Deployment:
        key = (stack_id, name)
        if key in self._failed:
            raise self._failed[key]
        if key not in self._made:
            try:
                self._made[key] = self.kits.get(stack_id).deploy(self.context(stack_id), name)
            except GamedayError as exc:
                self._failed[key] = exc
                raise
        return self._made[key]

    def preflight(self, game: GameDay, spec: ScenarioSpec, deployment: Deployment) -> None:
        """The pre-flight before this scenario's fault (the deployment's configuration once per session);
        `PreflightRefused` when a check failed, and for every later scenario of that stack."""
        if spec.stack_id in self._refused:
            raise self._refused[spec.stack_id]
        key = (spec.stack_id, spec.deployment)
        ctx = PreflightContext(game.backend, game.profile, _load_rps(game))
        try:
            checks = refuse_if_failed(after_deploy(ctx, [spec], deployment, lambda s: _budget(game, s),
                                                   deployed=key not in self._checked))
        except PreflightRefused as exc:
            self._refused[spec.stack_id] = exc
            raise
        self._checked.add(key)
        for check in checks:
            log.info("pre-flight %s", check.line)

    def close(self) -> None:
        """Delete what was deployed, newest first; every deletion is tried, the first failure raised."""
        failures: list[BaseException] = []
        for (stack_id, _), deployment in reversed(list(self._made.items())):
            try:
                self.kits.get(stack_id).delete(self.context(stack_id), deployment)
            except Exception as exc:  # keep deleting the others; report the first
                log.error("deleting %s failed: %s", deployment.names, exc)
                failures.append(exc)
        self._made.clear()
        if failures:
            raise failures[0]


def play(game: GameDay, spec: ScenarioSpec, deployments: Deployments) -> list[ScenarioResult]:
    """Run one scenario spec; results are in `game.report` too. A deployment that fails, or a scenario that
    returns nothing, is recorded as `not run` with the reason."""
    try:
        deployment = deployments.get(spec)
    except SystemUnderTestFailed as exc:  # e.g. a deployed stack that never reached its steady state
        return [record_not_run(game, spec, f"the stack never became ready: {exc}", Verdict.FAILED)]
    except GamedayError as exc:  # the stack is what broke: an error in every report, never a silent table
        return [record_not_run(game, spec, f"could not deploy or adopt {spec.stack_id}: {exc}", Verdict.ERROR)]
    except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: say so in the report, then stop the session
        record_not_run(game, spec, f"interrupted by {interrupt_signal(stop)} during the deploy")
        raise
    try:
        deployments.preflight(game, spec, deployment)
    except PreflightRefused as exc:  # before any fault of this scenario; `gameday run` exits 2 with the reasons
        say_refused(game, spec.stack_id, exc)
        return [record_not_run(game, spec, f"refused before any fault: {'; '.join(c.reason for c in exc.failed)}")]
    except KeyboardInterrupt as stop:
        record_not_run(game, spec, f"interrupted by {interrupt_signal(stop)} during the pre-flight checks "
                                   "(no fault injected)")
        raise
    before = len(game.report.scenarios)
    config = configuration(_stacks_of(deployment))  # filed before it plays: an interrupted scenario has it too
    _file_configuration(game, config, [f"{spec.stack_id}/{spec.name}"])
    journal = RollbackJournal(game.paths.journal)
    known = _entry_ids(journal)
    game.in_play = _stacks_of(deployment)
    try:
        results = list(spec.run(game, deployment, spec))
    except KeyboardInterrupt as stop:
        record_not_run(game, spec, f"interrupted by {interrupt_signal(stop)} during {_phase(journal, known)}")
        raise
    finally:
        game.in_play = ()
    for result in results:
        if result not in game.report.scenarios[before:]:
            game.report.scenarios.append(result)
    _file_configuration(game, config, [f"{r.stack_id}/{r.scenario}" for r in game.report.scenarios[before:]])
    if not results:
        return [record_not_run(game, spec, "the scenario returned no result")]
    return results


def _file_configuration(game: GameDay, config: list[dict[str, Any]], scenarios: list[str]) -> None:
    """The deployment's configuration snapshot (template hash, parameters, health checks, TTLs) beside each
    scenario's results in report.json, for the evidence report."""
    for key in scenarios:
        game.report.extras.setdefault(key, {})["config"] = config


def say_refused(game: GameDay, stack_id: str, refusal: PreflightRefused) -> None:
    """parts/<stack>.preflight.refused: the lines `gameday run` prints, as for any refusal only a child sees."""
    folder = game.paths.folder / "parts"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stack_id}.preflight.refused").write_text(str(refusal) + "\n")


def _load_rps(game: GameDay) -> float | None:
    """The configured load's peak requests/s (None: no --load, or a load paced by its users alone)."""
    return game.load.settings.config().peak_rate if game.load.enabled else None


def _stacks_of(deployment: Deployment) -> tuple[DeployedStack, ...]:
    stacks = [*deployment.parts.values()]
    for other in deployment.others.values():
        stacks += [s for s in other.parts.values() if s not in stacks]
    return tuple(stacks)


def record_not_run(game: GameDay, spec: ScenarioSpec, reason: str,
                   verdict: Verdict = Verdict.NOT_RUN) -> ScenarioResult:
    result = ScenarioResult(stack_id=spec.stack_id, scenario=spec.name, fault=spec.fault, target="",
                            backend=game.backend.name, profile=game.profile.name, budget_s=_budget(game, spec),
                            fault_at=None,
                            failover=None, prediction=None, verdict=verdict, message=reason,
                            timeline=game.new_timeline(spec.stack_id, spec.name))
    game.report.scenarios.append(result)
    return result


def _budget(game: GameDay, spec: ScenarioSpec) -> float:
    """The scenario's budget, as it would have been judged; 0.0 when even that cannot be read: recording why a
    scenario did not play must never fail in turn."""
    try:
        return game.budget(spec.stack_id, spec.budget_key, spec.name)
    except Exception:  # noqa: BLE001
        return 0.0


def interrupt_signal(stop: KeyboardInterrupt) -> str:
    """SIGTERM when the handler that turns it into KeyboardInterrupt says so; Ctrl-C's carries nothing."""
    said = str(stop)
    return "SIGTERM" if "SIGTERM" in said or said == f"signal {signal.SIGTERM.value}" else "SIGINT"


def _entry_ids(journal: RollbackJournal) -> set[str]:
    try:
        return {e.entry_id for e in journal.entries()}
    except GamedayError:  # a damaged journal: the phase is then told without it
        return set()


def _phase(journal: RollbackJournal, known: set[str]) -> str:
    """Steady state until this scenario journals a fault; then the fault, with what its revert did."""
    try:
        mine = [e for e in journal.entries() if e.entry_id not in known]
    except GamedayError:
        return "the scenario"
    if not mine:
        return "steady state (no fault injected)"
    told = "; ".join(f"{e.fault} on {e.target} {'reverted' if e.state == 'reverted' else 'NOT reverted: ' + e.state}"
                     for e in mine)
    left = any(e.state in ("pending", "failed") for e in mine)
    return f"the fault ({told}{f'; `gameday rollback --journal {journal.path}` finishes it' if left else ''})"


def failed_messages(results: Sequence[ScenarioResult]) -> list[str]:
    return [f"{r.stack_id} / {r.scenario}: {r.verdict}: {r.message}" for r in results if not r.passed]
