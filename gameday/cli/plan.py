"""`gameday plan`: the dry run. Prints each scenario's faults with their targets, inject and revert,
and changes nothing.

Without a stack the targets are named in words. With `--existing-stack NAME` (aws backend) they are
resolved against that stack through read-only calls and checked by the guards (account, blast radius);
with `--local` each scenario's stack is deployed into a throwaway, offline localcloud to resolve them.
A target the guards refuse is printed, and the command exits 2 with the first refusal.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tenacity import retry, retry_if_exception_type, wait_fixed

from gameday import debian, guards
from gameday.backends.aws import AwsBackend, AwsOptions, add_aws_options, aws_errors
from gameday.backends.base import Backend
from gameday.errors import ConfigError, DeployError, FaultError
from gameday.faults import Fault, FaultPlan
from gameday.fis import fis_equivalent
from gameday.kits import Kits, load_kits
from gameday.kits.kit import DeployContext, Deployment, ScenarioSpec
from gameday.options import parse_existing
from gameday.run import new_run_id
from localcloud import profiles

LOCAL_SETTLE_S = 30.0  # a throwaway localcloud's instances boot before their faults can be planned


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="scenario id or stack id (default: all)")
    parser.add_argument("--stacks-dir", default=None, metavar="DIR", help="also a team's own kits from DIR")
    parser.add_argument("--local", action="store_true",
                        help="resolve targets by deploying each stack into a throwaway localcloud (offline)")
    parser.add_argument("--config", default=None, metavar="FILE", help="gameday.toml to read [aws] from")
    add_aws_options(parser.add_argument)


def main(args: argparse.Namespace) -> int:
    kits = load_kits(args.stacks_dir)
    scenarios = kits.select(args.scenarios)
    if args.local and args.existing_stack:
        raise ConfigError("--local and --existing-stack exclude each other")
    if args.existing_stack:
        return _plan_existing(args, kits, scenarios)
    if args.local:
        return _plan_local(kits, scenarios)
    for stack_id in dict.fromkeys(s.stack_id for s in scenarios):
        _print_parts(kits, stack_id)
        for scenario in (s for s in scenarios if s.stack_id == stack_id):
            print_static_plan(scenario)
    print("(targets in words: resolve them with --existing-stack NAME on aws, or --local)")
    return 0


def _print_parts(kits: Kits, stack_id: str) -> None:
    """The stack's CloudFormation stacks, by the part names `--existing-stack STACK.PART=NAME` uses."""
    kit = kits.get(stack_id)
    print(f"stack {stack_id}: {kit.summary}")
    for part in kit.parts:
        print(f"  part {part.name:<24} {part.template.name}: {part.summary}")


def _print_header(scenario: ScenarioSpec, where: str) -> None:
    print(f"{scenario.scenario_id}  [stack {where}]")
    print(f"  {scenario.summary}")


def print_static_plan(scenario: ScenarioSpec) -> None:
    _print_header(scenario, scenario.stack_id)
    for spec in scenario.faults:
        print(f"  fault {spec.fault}")
        print(f"    targets  {spec.targets}")
        print(f"    revert   {spec.revert}")
        print(f"    FIS      {fis_equivalent(spec.fault)}")
    print(f"  stop conditions: {scenario.stop.describe()}")
    if scenario.extended:
        print("  extended: `gameday run` plays it only with --extended")
    if set(scenario.backends) != {"localcloud", "aws"}:
        print(f"  backends: {', '.join(scenario.backends)} only: {scenario.backend_note}")


def _print_concrete(scenario: ScenarioSpec, backend: Backend, deployment: Deployment,
                    guard: guards.BlastRadiusGuard, *, settle_until: float = 0.0) -> tuple[list[str], list[str]]:
    """Print the resolved plan; return the refusals and the faults that could not be planned."""
    refusals: list[str] = []
    unplanned: list[str] = []
    _print_header(scenario, f"{deployment.names}, backend {backend.name} {backend.region}")
    for spec in scenario.faults:
        print(f"  fault {spec.fault}")
        try:
            plan = _plan_when_settled(spec.build(backend, deployment), settle_until)
        except (FaultError, DeployError) as exc:
            print(f"    cannot plan: {exc}")
            unplanned.append(f"{scenario.scenario_id} {spec.fault}: {exc}")
            continue
        for target, inside, refusal in guard.explain(plan):
            print(f"    target   {target.describe()}")
            print(f"             {'inside the blast radius: ' + inside if inside else 'REFUSED'}")
            if inside is None:
                refusals.append(refusal)
        print(f"    inject   {plan.action}")
        print(f"    revert   {plan.revert.description}  [{plan.revert.kind}]")
        print(f"    FIS      {fis_equivalent(spec.fault)}")
    print(f"  stop conditions: {scenario.stop.describe()}")
    return refusals, unplanned


def _plan_when_settled(fault: Fault, settle_until: float) -> FaultPlan:
    """A fault's plan; until `settle_until` (monotonic) a stack just deployed may still be booting its targets."""
    @retry(retry=retry_if_exception_type(FaultError), wait=wait_fixed(1.0),
           stop=lambda state: time.monotonic() >= settle_until, reraise=True)
    def plan() -> FaultPlan:
        return fault.plan()

    return plan()


def _verdict(refusals: list[str], unplanned: list[str]) -> int:
    if refusals:
        raise guards.TargetRefused(refusals[0])
    if unplanned:
        raise FaultError(f"{len(unplanned)} fault(s) could not be planned; first: {unplanned[0]}")
    return 0


def _plan_existing(args: argparse.Namespace, kits: Kits, scenarios: list[ScenarioSpec]) -> int:
    stack_ids = list(dict.fromkeys(s.stack_id for s in scenarios))
    if len(stack_ids) != 1:
        raise ConfigError(f"--existing-stack is one stack's parts; these scenarios need {len(stack_ids)} "
                          f"({', '.join(stack_ids)}): name scenarios of one stack")
    existing = parse_existing(args.existing_stack, stack_ids)
    options = AwsOptions.resolve(region=args.region, endpoint_url=args.endpoint_url, profile_name=args.aws_profile,
                                 allow_accounts=args.allow_account,
                                 existing_stacks=[n for parts in existing.values() for n in parts.values()],
                                 config=Path(args.config) if args.config else None)
    scenarios, left_out = _playable_on_aws(scenarios)
    with AwsBackend(options) as backend:
        ctx = DeployContext(backend, profiles.load("realistic"), "plan", {}, existing[stack_ids[0]])
        with aws_errors("adopting the existing stack"):
            deployment = kits.get(stack_ids[0]).deploy(ctx, scenarios[0].deployment)
        refusals: list[str] = []
        unplanned: list[str] = []
        with aws_errors("planning against AWS"):
            for scenario in scenarios:
                refused, failed = _print_concrete(scenario, backend, deployment, backend.target_guard)
                refusals, unplanned = refusals + refused, unplanned + failed
    for line in left_out:  # after the account check and the plan: a refusal is the only thing printed
        print(line)
    return _verdict(refusals, unplanned)


def _playable_on_aws(scenarios: list[ScenarioSpec]) -> tuple[list[ScenarioSpec], list[str]]:
    """The scenarios an existing stack can be planned for (their fault exists on AWS, they run against the
    stack's own deployment: the first selected), and a line for each one left out saying why."""
    first = next((s.deployment for s in scenarios if s.plays_on("aws")), None)
    kept, left_out = [], []
    for scenario in scenarios:
        if not scenario.plays_on("aws"):
            left_out.append(f"{scenario.scenario_id}: not played on aws: "
                            f"{scenario.backend_note or 'its fault exists only on ' + ', '.join(scenario.backends)}")
        elif scenario.deployment != first:
            left_out.append(f"{scenario.scenario_id}: not planned here: it runs against its own deployment "
                            f"{scenario.deployment!r}, not the one --existing-stack names")
        else:
            kept.append(scenario)
    if not kept:
        raise ConfigError("none of these scenarios can be planned against an existing stack on aws")
    return kept, left_out


def _plan_local(kits: Kits, scenarios: list[ScenarioSpec]) -> int:
    refusals: list[str] = []
    unplanned: list[str] = []
    debian.require(debian.for_local_run(p.template for s in dict.fromkeys(s.stack_id for s in scenarios)
                                        for p in kits.get(s).parts))
    with _localcloud() as backend:
        for key in dict.fromkeys((s.stack_id, s.deployment) for s in scenarios):  # each deployment once
            kit = kits.get(key[0])
            ctx = DeployContext(backend, profiles.load("fast"), f"plan-{new_run_id()}")
            with aws_errors(f"deploying {key[0]} into localcloud"):
                deployment = kit.deploy(ctx, key[1])
            settle_until = time.monotonic() + LOCAL_SETTLE_S
            try:
                with aws_errors("planning against localcloud"):
                    scope = guards.merge_scopes(
                        guards.stack_scope(backend.client("cloudformation", region=stack.spec.region),
                                           [stack.stack_arn]) for stack in deployment.parts.values())
                    guard = guards.BlastRadiusGuard(lambda scope=scope: scope)  # type: ignore[misc]
                    for scenario in (s for s in scenarios if (s.stack_id, s.deployment) == key):
                        refused, failed = _print_concrete(scenario, backend, deployment, guard,
                                                          settle_until=settle_until)
                        refusals, unplanned = refusals + refused, unplanned + failed
            finally:
                with aws_errors(f"deleting {deployment.names} from localcloud"):
                    kit.delete(ctx, deployment)
    return _verdict(refusals, unplanned)


@contextmanager
def _localcloud() -> Iterator[Backend]:
    from gameday.backends.local import LocalBackend  # localcloud starts only for --local

    backend = LocalBackend(profile="fast")
    try:
        yield backend
    finally:
        backend.close()
