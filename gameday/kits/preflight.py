"""The pre-flight of scenario specs: before the deploy, what the templates and `--param` already say; after
it, what the deployed stack says (gameday.preflight's checks, and each spec's own `ScenarioSpec.preflight`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gameday import budgets, preflight
from gameday.errors import GamedayError
from gameday.kits import Kits
from gameday.kits.blocks.template_kit import overrides_for
from gameday.kits.kit import Deployment, ScenarioSpec
from gameday.preflight import Check, PreflightContext, refuse_if_failed
from gameday.stacks import DeployedStack, StackSpec
from localcloud import profiles
from localcloud.profiles import Profile

Budget = Callable[[ScenarioSpec], float]


def budget_of(profile: str, budgets_file: Path) -> Budget:
    """A spec's budget as the run judges it: the run's file, else the kit's own, this profile's value."""
    def budget(spec: ScenarioSpec) -> float:
        return budgets.budget_for(spec.stack_id, spec.budget_key, profile,
                                  budgets.budget_file(spec.stack_id, budgets_file, spec.budgets), scenario=spec.name)

    return budget


def refuse_before_deploy(kits: Kits, specs: Sequence[ScenarioSpec], parameters: Mapping[str, Mapping[str, str]],
                         profile: str, budgets_file: Path) -> list[Check]:
    """`before_deploy`'s checks, all passed; otherwise `PreflightRefused` (exit 2, before anything starts)."""
    return refuse_if_failed(before_deploy(kits, specs, parameters, profiles.load(profile),
                                          budget_of(profile, budgets_file)))


def before_deploy(kits: Kits, specs: Sequence[ScenarioSpec], parameters: Mapping[str, Mapping[str, str]],
                  profile: Profile, budget: Budget) -> list[Check]:
    """Predictions from the template and `--param` alone, for the stacks `--param` changes.

    Kits pass values of their own at deploy time (zone names, TTLs scaled to the profile), unknown here; so a
    prediction is judged before the deploy only where the template's defaults alone predict within the
    budget, and the user's `--param` is what moves it over. Every other case is judged after the deploy."""
    found: list[Check] = []
    for spec in specs:
        given = parameters.get(spec.stack_id)
        if spec.predict is None or not given:
            continue
        template = _main_template(kits, spec)
        try:
            plain = spec.predict(profile, _undeployed(spec, template, {}))
            changed = spec.predict(profile, _undeployed(spec, template, overrides_for(template, given)))
        except GamedayError:
            continue  # needs the deployed stack (an output, a physical id): judged after the deploy
        limit = budget(spec)
        if plain.mean_s <= limit < changed.mean_s:
            found.append(preflight.within_budget(spec.scenario_id, changed, limit,
                                                 basis="from the template and --param, before the deploy"))
    return found


def after_deploy(ctx: PreflightContext, specs: Sequence[ScenarioSpec], deployment: Deployment, budget: Budget, *,
                 deployed: bool = True) -> list[Check]:
    """Every check against one deployment for `specs` (which run against it); `deployed=False` leaves out
    the checks of the deployed configuration (already made for this deployment)."""
    found: list[Check] = []
    if deployed:
        for stack in deployment.parts.values():
            found += preflight.deployed_configuration(ctx.backend, stack)
    for spec in specs:
        if spec.predict is not None:
            found.append(preflight.within_budget(spec.scenario_id, spec.predict(ctx.profile, deployment.main),
                                                 budget(spec)))
        found += preflight.alarms_ok(ctx.backend, spec.stop.alarms, spec.scenario_id)
        for check in spec.preflight:
            found += [c for c in check(ctx, deployment) if c not in found]  # a stack-wide check said once
    return found


def _main_template(kits: Kits, spec: ScenarioSpec) -> Path:
    parts = kits.get(spec.stack_id).parts
    return next((p for p in parts if p.name == "main"), parts[0]).template


def _undeployed(spec: ScenarioSpec, template: Path, parameters: Mapping[str, str]) -> DeployedStack:
    """The main part as it would deploy with `parameters` (template defaults for the rest), for a predictor."""
    return DeployedStack(StackSpec(spec.stack_id, dict(parameters), template), "(not deployed)", "", {}, {})
