"""What a stack kit is made of: its parts (CloudFormation stacks), its deployments and its scenario specs.

A `ScenarioSpec` is the one description of a scenario: `gameday plan`, `run --dry-run`, `export-fis`, the stop
conditions and the pytest scenarios all read it. Its `run` plays the scenario against a `Deployment` and
returns typed results; its faults' `build` makes the concrete faults against the same deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gameday.backends.base import Backend
from gameday.errors import ConfigError, DeployError
from gameday.faults import Fault
from gameday.model import Prediction
from gameday.preflight import Check, PreflightContext
from gameday.reports.markdown import ReportSection
from gameday.scenario import ScenarioResult
from gameday.session import GameDay
from gameday.stacks import DeployedStack
from gameday.stopconditions import StopSpec
from localcloud.profiles import Profile


@dataclass(frozen=True)
class PartSpec:
    """One CloudFormation stack of a kit: the name `--existing-stack STACK.PART=NAME` uses, and its template."""

    name: str
    template: Path
    summary: str


@dataclass(frozen=True)
class Deployment:
    """A kit deployed (or adopted): its parts by name. Kits with more to say subclass it (one level)."""

    stack_id: str
    parts: Mapping[str, DeployedStack]
    # The kit's further deployments a scenario runs against too (`ScenarioSpec.also`), by deployment name.
    others: Mapping[str, Deployment] = field(default_factory=dict, kw_only=True)

    @property
    def main(self) -> DeployedStack:
        return self.part("main") if "main" in self.parts else next(iter(self.parts.values()))

    def part(self, name: str) -> DeployedStack:
        try:
            return self.parts[name]
        except KeyError:
            raise DeployError(f"{self.stack_id} has no part {name!r} (has: {', '.join(self.parts)})",
                              stack=self.stack_id) from None

    def output(self, key: str) -> str:
        """An output of the main part."""
        return self.main.output(key)

    @property
    def adopted(self) -> bool:
        return all(stack.adopted for stack in self.parts.values())

    @property
    def names(self) -> str:
        return ", ".join(f"{part} {stack.name}" for part, stack in self.parts.items())


@dataclass(frozen=True)
class DeployContext:
    """What a kit needs to deploy or adopt: the backend, the time profile (for parameters that scale with
    it), the run id (names and tags), `--param` overrides, and `--existing-stack` names per part."""

    backend: Backend
    profile: Profile
    run_id: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    existing: Mapping[str, str] = field(default_factory=dict)  # part -> stack name or ARN
    run_tag: str | None = None  # the game day's exact run id, tagged on every stack (None: run_id)

    @property
    def adopting(self) -> bool:
        return bool(self.existing)

    def existing_part(self, part: str, stack_id: str) -> str:
        try:
            return self.existing[part]
        except KeyError:
            raise ConfigError(f"--existing-stack: {stack_id} needs {part} named too "
                              f"(--existing-stack {stack_id}.{part}=NAME); named: {', '.join(self.existing)}") from None


FaultBuilder = Callable[[Backend, Deployment], Fault]


@dataclass(frozen=True)
class FaultSpec:
    fault: str  # a name in gameday.faults.FAULTS
    targets: str  # the targets in words, before any stack exists
    revert: str  # the revert in words
    build: FaultBuilder  # the concrete fault against a deployment
    settings: Mapping[str, str] = field(default_factory=dict)  # static settings (az, duration) for FIS export


Predictor = Callable[[Profile, DeployedStack | None], Prediction]
# A kit's own pre-flight check against the deployment (e.g. N-1 capacity at the configured load).
PreflightCheck = Callable[[PreflightContext, Deployment], Sequence[Check]]
ScenarioRun = Callable[[GameDay, Deployment, "ScenarioSpec"], Sequence[ScenarioResult]]


@dataclass(frozen=True)
class ScenarioSpec:
    scenario_id: str  # "<stack>/<scenario>"
    stack_id: str
    summary: str
    faults: tuple[FaultSpec, ...]
    run: ScenarioRun
    stop: StopSpec = field(default_factory=StopSpec)
    extended: bool = False  # left out of `gameday run` unless --extended (longer or rarer)
    deployment: str = "default"  # which of the kit's deployments it runs against
    predict: Predictor | None = None  # the failover time the deployed configuration implies
    budget: str = ""  # the budget's key in gameday.toml (default: the first fault's name)
    # A team kit's own budgets file (its folder's budgets.toml): read for this stack when the run's
    # --budgets file sets nothing for it, so a kit ships its budgets with its scenarios.
    budgets: Path | None = None
    also: tuple[str, ...] = ()  # further deployments its run needs beside `deployment` (in `Deployment.others`)
    # The backends the fault exists on ("localcloud", "aws"); elsewhere the scenario is not played, and
    # `backend_note` says why (e.g. AWS has no way to take a region's S3 away).
    backends: tuple[str, ...] = ("localcloud", "aws")
    backend_note: str = ""
    # The kit's own checks before the first fault (`gameday preflight`, and every run): gameday.preflight.
    preflight: tuple[PreflightCheck, ...] = ()

    @property
    def name(self) -> str:
        return self.scenario_id.split("/", 1)[1]

    @property
    def fault(self) -> str:
        return self.faults[0].fault if len(self.faults) == 1 else "+".join(f.fault for f in self.faults)

    @property
    def budget_key(self) -> str:
        return self.budget or self.faults[-1].fault

    def plays_on(self, backend: str) -> bool:
        return backend in self.backends


class StackKit(Protocol):
    """Everything specific to one stack. Generic code never names a stack; a kit never reaches into another."""

    @property
    def stack_id(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def parts(self) -> tuple[PartSpec, ...]: ...

    @property
    def scenarios(self) -> tuple[ScenarioSpec, ...]: ...

    @property
    def report_section(self) -> ReportSection | None:
        """summary.md lines of its own for this stack's results (e.g. variants side by side); None: none."""

    def deploy(self, ctx: DeployContext, deployment: str) -> Deployment:
        """Deploy `deployment` (one of the names the scenarios use), or adopt it when `ctx.existing` names
        its parts. A failed deploy leaves nothing behind."""

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        """Delete what `deploy` created (adopted parts are left alone, checked by `stacks.delete`)."""


def one_per_part(kit_parts: Sequence[PartSpec], existing: Mapping[str, str], stack_id: str) -> None:
    """Refuse `--existing-stack` names for parts the kit does not have (a typo must not be ignored)."""
    known = {p.name for p in kit_parts}
    unknown = sorted(set(existing) - known)
    if unknown:
        raise ConfigError(f"--existing-stack: {stack_id} has no part {unknown[0]!r} "
                          f"(parts: {', '.join(sorted(known))})")
