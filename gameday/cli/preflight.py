"""`gameday preflight`: the checks `gameday run` makes before the first fault, on their own, printed one per
line. Exit 0 when every check passed, 2 with one line per failed check (nothing is ever injected).

With `--backend local` each stack is deployed into a throwaway localcloud, checked and torn down; with
`--backend aws --existing-stack ...` the deployed stack is adopted (read only) and checked.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gameday.backends.aws import AwsBackend, AwsOptions, aws_errors
from gameday.backends.base import Backend
from gameday.cli.run import _check as check_inputs  # the same inputs, checked the same way as `gameday run`
from gameday.errors import ConfigError
from gameday.kits import Kits
from gameday.kits.kit import DeployContext, ScenarioSpec
from gameday.kits.preflight import Budget, after_deploy, budget_of, refuse_before_deploy
from gameday.load.session import LoadSettings
from gameday.options import add_to_parser, parse_existing, parse_params
from gameday.preflight import Check, PreflightContext, refuse_if_failed
from gameday.run import new_run_id
from localcloud import profiles

STEADY = ("every probe healthy: checked by each scenario's steady-state wait right before its fault "
          "(`gameday run`); a stack that never gets there is not faulted")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "check, before breaking anything, what would make the run fail or unsafe: the prediction already over "
        "the budget, N-1 capacity at the configured load, health checks, TTLs and origin-group failover codes "
        "as deployed, stop-condition alarms. --backend local deploys each stack into a throwaway localcloud, "
        "checks it and tears it down; --backend aws checks the stack named with --existing-stack (read only).")
    parser.epilog = ("examples:\n"
                     "  gameday preflight --stack static-ip-haproxy\n"
                     "  gameday preflight --stack static-ip-haproxy --param static-ip-haproxy.HealthCheckInterval=30\n"
                     "  gameday preflight --backend aws --allow-account 123456789012 --stack eip-self-healing \\\n"
                     "      --existing-stack my-eip-stack\n"
                     "exit status: 0 every check passed, 2 a check failed (one line per reason) or bad usage, "
                     "3 the suite itself broke (a deploy failed)")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_to_parser(parser)  # the same flags as `gameday run`
    only = parser.add_argument_group("selection")
    only.add_argument("--stack", action="append", default=[], metavar="ID",
                      help="only this stack's scenarios (repeatable; default: every stack)")
    only.add_argument("--extended", action="store_true", help="also the scenarios marked extended")
    parser.set_defaults(jobs=0, keyword=None, dry_run=False, split="stack")


def main(args: argparse.Namespace) -> int:
    plan = check_inputs(args)
    profile = profiles.load(plan.profile)
    params = parse_params(args.param, plan.kits.ids())
    where = "localcloud" if args.backend == "local" else f"backend aws ({args.region or 'its configured region'})"
    print(f"gameday preflight: {len(plan.specs)} scenario(s) of {', '.join(plan.stacks)} on {where}, "
          f"time profile {plan.profile}", flush=True)
    budget = budget_of(plan.profile, Path(args.budgets))
    _print(refuse_before_deploy(plan.kits, plan.specs, params, plan.profile, Path(args.budgets)))
    load = LoadSettings(args.load, users=args.load_users, rate=args.load_rate, duration_s=args.load_duration,
                        processes=args.load_processes)
    load_rps = load.config().peak_rate if load.enabled else None
    existing = parse_existing(args.existing_stack, plan.stacks)
    checks: list[Check] = []
    with _backend(args, plan.profile, existing) as backend:
        ctx = PreflightContext(backend, profile, load_rps)
        for (stack_id, name), specs in _by_deployment(plan.specs, adopting=bool(existing)).items():
            deploy_ctx = DeployContext(backend, profile, f"pf-{new_run_id()}", params.get(stack_id, {}),
                                       existing.get(stack_id, {}))
            checks += _check_deployment(plan.kits, deploy_ctx, ctx, stack_id, name, specs, budget)
    _print([c for c in checks if c.ok])
    print(STEADY)
    refuse_if_failed(checks)
    print(f"gameday preflight: {len(checks)} check(s) passed")
    return 0


def _check_deployment(kits: Kits, deploy_ctx: DeployContext, ctx: PreflightContext, stack_id: str, name: str,
                      specs: Sequence[ScenarioSpec], budget: Budget) -> list[Check]:
    kit = kits.get(stack_id)
    verb = "adopting" if deploy_ctx.adopting else "deploying"
    print(f"{stack_id}: {verb} {'its stack' if name == 'default' else 'deployment ' + name} ...", flush=True)
    with aws_errors(f"{verb} {stack_id}"):
        deployment = kit.deploy(deploy_ctx, name)
    try:
        with aws_errors(f"checking {stack_id}"):
            return after_deploy(ctx, specs, deployment, budget)
    finally:
        with aws_errors(f"deleting {deployment.names}"):
            kit.delete(deploy_ctx, deployment)  # adopted parts are left alone


def _by_deployment(specs: Sequence[ScenarioSpec], *, adopting: bool) -> dict[tuple[str, str], list[ScenarioSpec]]:
    """Specs by the deployment they run against; an adopted stack is the deployment its first spec names."""
    found: dict[tuple[str, str], list[ScenarioSpec]] = {}
    first: dict[str, str] = {}
    for spec in specs:
        name = first.setdefault(spec.stack_id, spec.deployment)
        if adopting and spec.deployment != name:
            print(f"  {spec.scenario_id}: not checked here: it runs against its own deployment {spec.deployment!r}, "
                  "not the one --existing-stack names")
            continue
        found.setdefault((spec.stack_id, spec.deployment), []).append(spec)
    return found


@contextmanager
def _backend(args: argparse.Namespace, profile: str, existing: dict[str, dict[str, str]]) -> Iterator[Backend]:
    if args.backend == "aws":
        if not existing:
            raise ConfigError("gameday preflight on aws checks a deployed stack: name it with --existing-stack "
                              "(it never deploys on aws)")
        options = AwsOptions.resolve(region=args.region, endpoint_url=args.endpoint_url,
                                     profile_name=args.aws_profile, allow_accounts=args.allow_account,
                                     existing_stacks=[n for parts in existing.values() for n in parts.values()])
        with AwsBackend(options) as aws:
            yield aws
        return
    from gameday.backends.local import LocalBackend  # localcloud starts only here

    local = LocalBackend(profile=profile, seed=args.seed)
    try:
        yield local
    finally:
        local.close()


def _print(checks: Sequence[Check]) -> None:
    for check in checks:
        print(f"  {check.line}", flush=True)
