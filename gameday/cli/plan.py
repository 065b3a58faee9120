"""`gameday plan`: the dry run. Prints each scenario's faults with their targets, inject and revert,
and changes nothing.

Without a stack the targets are named in words. With `--existing-stack NAME` (aws backend) they are
resolved against that stack through read-only calls and checked by the guards (account, blast radius);
with `--local` each scenario's stack is deployed into a throwaway, offline localcloud to resolve them.
A target the guards refuse is printed, and the command exits 2 with the first refusal.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gameday import catalog, guards
from gameday.backends.aws import AwsBackend, AwsOptions, add_aws_options, adopt_stack, aws_errors
from gameday.backends.base import Backend
from gameday.catalog import ScenarioSpec
from gameday.errors import ConfigError
from gameday.fis import fis_equivalent
from gameday.stacks import DeployedStack, StackSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"scenario id or stack id (default: all; known: {', '.join(catalog.available())})")
    parser.add_argument("--local", action="store_true",
                        help="resolve targets by deploying each stack into a throwaway localcloud (offline)")
    parser.add_argument("--config", default=None, metavar="FILE", help="gameday.toml to read [aws] from")
    add_aws_options(parser.add_argument)


def main(args: argparse.Namespace) -> int:
    scenarios = catalog.select(args.scenarios)
    if args.local and args.existing_stack:
        raise ConfigError("--local and --existing-stack exclude each other")
    if args.existing_stack:
        return _plan_existing(args, scenarios)
    if args.local:
        return _plan_local(scenarios)
    for scenario in scenarios:
        _print_static(scenario)
    print("(targets in words: resolve them with --existing-stack NAME on aws, or --local)")
    return 0


def _print_header(scenario: ScenarioSpec, where: str) -> None:
    print(f"{scenario.scenario_id}  [stack {where}]")
    print(f"  {scenario.summary}")


def _print_static(scenario: ScenarioSpec) -> None:
    _print_header(scenario, scenario.stack_id)
    for spec in scenario.faults:
        print(f"  fault {spec.fault}")
        print(f"    targets  {spec.targets}")
        print(f"    revert   {spec.revert}")
        print(f"    FIS      {fis_equivalent(spec.fault)}")
    print(f"  stop conditions: {scenario.stop.describe()}")


def _print_concrete(scenario: ScenarioSpec, backend: Backend, stack: DeployedStack,
                    guard: guards.BlastRadiusGuard) -> list[str]:
    """Print the resolved plan; return the refusals."""
    refusals: list[str] = []
    _print_header(scenario, f"{stack.name}, backend {backend.name} {backend.region}")
    for spec in scenario.faults:
        fault = spec.build(backend, stack)
        plan = fault.plan()
        print(f"  fault {spec.fault}")
        for target, inside, refusal in guard.explain(plan):
            print(f"    target   {target.describe()}")
            print(f"             {'inside the blast radius: ' + inside if inside else 'REFUSED'}")
            if inside is None:
                refusals.append(refusal)
        print(f"    inject   {plan.action}")
        print(f"    revert   {plan.revert.description}  [{plan.revert.kind}]")
        print(f"    FIS      {fis_equivalent(spec.fault)}")
    print(f"  stop conditions: {scenario.stop.describe()}")
    return refusals


def _plan_existing(args: argparse.Namespace, scenarios: list[ScenarioSpec]) -> int:
    stacks = {s.stack_id for s in scenarios}
    if len(stacks) != 1:
        raise ConfigError(f"--existing-stack is one stack; these scenarios need {len(stacks)} "
                          f"({', '.join(sorted(stacks))}): name scenarios of one stack")
    options = AwsOptions.resolve(region=args.region, endpoint_url=args.endpoint_url, profile_name=args.aws_profile,
                                 allow_accounts=args.allow_account, existing_stack=args.existing_stack,
                                 config=Path(args.config) if args.config else None)
    with AwsBackend(options) as backend:
        stack = adopt_stack(backend, args.existing_stack, StackSpec(scenarios[0].stack_id))
        with aws_errors("planning against AWS"):
            refusals = [r for s in scenarios for r in _print_concrete(s, backend, stack, backend.target_guard)]
    if refusals:
        raise guards.TargetRefused(refusals[0])
    return 0


def _plan_local(scenarios: list[ScenarioSpec]) -> int:
    from gameday import stacks
    from gameday.run import new_run_id

    refusals: list[str] = []
    with _localcloud() as backend:
        for scenario in scenarios:
            deployed = stacks.deploy(backend, StackSpec(scenario.stack_id), f"plan-{new_run_id()}")
            try:
                with aws_errors("planning against localcloud"):
                    scope = guards.stack_scope(backend.client("cloudformation"), [deployed.name])
                    guard = guards.BlastRadiusGuard(lambda scope=scope: scope)  # type: ignore[misc]
                    refusals += _print_concrete(scenario, backend, deployed, guard)
            finally:
                stacks.delete(backend, deployed)
    if refusals:
        raise guards.TargetRefused(refusals[0])
    return 0


@contextmanager
def _localcloud() -> Iterator[Backend]:
    from gameday.backends.local import LocalBackend

    backend = LocalBackend(profile="fast")
    try:
        yield backend
    finally:
        backend.close()
