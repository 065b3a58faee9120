"""`gameday run`: the game day. One pytest child per stack, in parallel, each with its own localcloud;
the parent prints a live progress line per scenario, merges the children's parts into one report and
exits non-zero when a scenario failed (naming the phase that took the time)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _pytest.mark.expression import Expression  # pytest's -k parser, to refuse a bad -k before any child starts

from gameday import budgets, debian
from gameday.backends.aws import AwsOptions
from gameday.cli.children import (
    NO_TESTS_COLLECTED,
    TESTS_FAILED,
    USAGE_ERROR,
    Children,
    Ended,
    child_outcome,
    interrupted,
    run_children,
    what_is_left,
)
from gameday.cli.plan import print_static_plan
from gameday.cli.run_policy import check_policy, gate_section, judge, refused, to_step_summary
from gameday.cli.units import Timings, measured_timings, plan_units
from gameday.errors import ConfigError, GamedayError
from gameday.faults.journal import RollbackJournal
from gameday.gate import GateVerdict
from gameday.kits import Kits, ScenarioSpec, load_kits
from gameday.kits.blocks.template_kit import check_parameters
from gameday.kits.kit import one_per_part
from gameday.kits.preflight import refuse_before_deploy
from gameday.load.session import LoadSettings
from gameday.options import add_to_parser, forward, judged_profile, parse_existing, parse_params, parse_resolvers
from gameday.reports import RunReport, merge, read_parts, write_outputs
from gameday.resources import FILES
from gameday.run import RunPaths, check_run_id
from gameday.scenario import ScenarioResult, Verdict
from gameday.timeline import Timeline

# After a stop, how long the children get to revert and tear down: stack deletions on AWS take minutes.
STOP_GRACE_S = {"local": 90.0, "aws": 900.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n"
                     "  gameday run                                       every stack, localcloud, fast profile\n"
                     "  gameday run --stack eip-self-healing --repeat 5   one stack, a distribution of 5 runs\n"
                     "  gameday run --profile realistic --load steady     AWS-like timings under load\n"
                     "  gameday run --stacks-dir ./gameday-kits --stack my-api   a team's own stack\n"
                     "  gameday run --backend aws --region eu-west-1 --allow-account 123456789012 \\\n"
                     "      --stack eip-self-healing --existing-stack my-eip-stack   an existing stack on AWS\n"
                     "exit status: 0 every scenario within budget, 1 a scenario failed (the message names the phase),\n"
                     "2 bad usage or refused, 3 the suite itself broke or a scenario did not run, 130 interrupted "
                     "(faults reverted)")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_to_parser(parser)
    only = parser.add_argument_group("selection and scheduling (gameday run only)")
    only.add_argument("--stack", action="append", default=[], metavar="ID",
                      help="only this stack's scenarios (repeatable; default: every stack)")
    only.add_argument("--extended", action="store_true",
                      help="also the scenarios marked extended (longer or rarer faults; `make gameday` runs the "
                           "core ones)")
    only.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                      help="only scenarios matching this pytest -k expression")
    only.add_argument("--split", choices=("stack", "scenario", "auto"), default="stack",
                      help="one pytest child (and localcloud) per stack, per scenario, or auto: each stack cut "
                           "into the children that end the game day soonest at --jobs, timed by earlier reports "
                           "(default: stack)")
    only.add_argument("--jobs", type=int, default=0, metavar="N",
                      help="pytest children at a time, each with its own localcloud (default: one per CPU core)")
    only.add_argument("--dry-run", action="store_true",
                      help="print each scenario's faults, targets and reverts (as `gameday plan`) and change nothing")


@dataclass(frozen=True)
class Plan:
    """What `gameday run` will do, every input checked before anything starts."""

    kits: Kits
    stacks: list[str]
    specs: list[ScenarioSpec]  # the scenarios expected to run (before -k)
    profile: str
    elsewhere: list[ScenarioSpec]  # selected, but their fault does not exist on this backend


def main(args: argparse.Namespace) -> int:
    plan = _check(args)
    policy = check_policy(args)
    if args.dry_run:
        for scenario in plan.specs:
            print_static_plan(scenario)
        _say_elsewhere(args, plan)
        print("(dry run: nothing deployed, nothing injected; `gameday plan --local` resolves the targets)")
        return 0
    outside = refused(policy)
    if outside:  # before localcloud starts or anything is deployed
        print(f"gameday run: refused: {outside}", file=sys.stderr)
        to_step_summary(f"gameday run: refused: {outside}")
        return 2
    paths = RunPaths.create(args.run_id, Path(args.report_dir).resolve())
    args.run_id = paths.run_id  # every child shares it
    units = _units(args, plan)
    # One localcloud per core by default: more at once starve each other's health checkers and probes.
    jobs = min(args.jobs or os.cpu_count() or 1, len(units))
    print(f"gameday run {paths.run_id}: {_label(args, plan)}; {len(plan.stacks)} stack(s) in {len(units)} pytest "
          f"child(ren), {jobs} at a time; report in {paths.folder}", flush=True)
    _say_elsewhere(args, plan)
    started = time.monotonic()
    ended = _run_children(args, paths, units, jobs)
    refusal = None if ended.stopped_by else _refusal(paths, ended.codes)
    if refusal:  # e.g. the account, which only a child sees (STS): one line, as for bad input
        print(f"gameday run: {refusal}", file=sys.stderr)
        return 2
    parts = read_parts(paths.folder)
    missing = _not_run(args, plan, paths, parts, ended, units)
    if not parts and not missing:
        for stack, code in ended.codes.items():
            _explain_child(paths, stack, code)
        if _interrupted_by(ended):
            print(_interrupted_line(paths, ended), file=sys.stderr)
            return 130
        print("gameday run: no scenario ran (see the logs above)", file=sys.stderr)
        return 3
    data = merge([*parts, *([_not_run_part(args, paths, plan, missing)] if missing else [])])
    data["interrupted"] = _interrupted_by(ended)  # history keeps the run with this status, trends skip it
    verdicts = judge(policy, data)
    folder = write_outputs(data, paths.reports_dir, sections=plan.kits.report_sections(), store=policy.history)
    if verdicts is not None:
        with (folder / "summary.md").open("a") as summary:
            summary.write(gate_section(verdicts))
    to_step_summary((folder / "summary.md").read_text())
    for part in (paths.folder / "parts").glob("*.json"):  # merged into report.json; logs and progress stay
        part.unlink()
    print()
    print((folder / "summary.md").read_text())
    print(f"game day took {time.monotonic() - started:.0f} s")
    print(f"report: {folder / 'report.json'}")
    print(f"HTML report: {folder / 'report.html'}")
    return _exit_code(paths, ended, data, verdicts)

def _say_elsewhere(args: argparse.Namespace, plan: Plan) -> None:
    for spec in plan.elsewhere:
        why = spec.backend_note or f"its fault exists only on {', '.join(spec.backends)}"
        print(f"  {spec.scenario_id}: not played on {args.backend}: {why}", flush=True)


def _check(args: argparse.Namespace) -> Plan:
    """Every input, before localcloud starts or anything is deployed: one line and exit 2 when wrong."""
    profile = judged_profile(args.backend, args.profile)
    if args.repeat < 1:
        raise ConfigError(f"--repeat must be at least 1, got {args.repeat}")
    if args.jobs < 0:
        raise ConfigError(f"--jobs must be 0 (one per core) or more, got {args.jobs}")
    if not Path(args.budgets).is_file():
        raise ConfigError(f"budgets file {args.budgets} not found")
    _check_more(args)
    kits = load_kits(args.stacks_dir)
    for stack in args.stack:
        kits.get(stack)
    stacks = list(dict.fromkeys(args.stack)) or kits.ids()
    params = parse_params(args.param, kits.ids())
    for stack_id, values in params.items():
        check_parameters(stack_id, kits.get(stack_id).parts, values)
    if args.existing_stack and args.backend != "aws":
        raise ConfigError("--existing-stack needs --backend aws (localcloud deploys its own stacks)")
    existing = parse_existing(args.existing_stack, stacks)
    # The children see every kit: each name goes to them with its stack and part spelled out.
    args.existing_stack = [f"{stack}.{part}={name}" for stack, parts in existing.items()
                           for part, name in parts.items()]
    for stack_id, parts in existing.items():
        one_per_part(kits.get(stack_id).parts, parts, stack_id)
    if existing and set(existing) != set(stacks):
        raise ConfigError(f"--existing-stack names {', '.join(sorted(existing))} but the run plays "
                          f"{', '.join(stacks)}: select the adopted stacks with --stack")
    parse_resolvers(args.resolver)
    if args.backend == "aws":
        AwsOptions.resolve(region=args.region, endpoint_url=args.endpoint_url, profile_name=args.aws_profile,
                           allow_accounts=args.allow_account,
                           existing_stacks=[n for parts in existing.values() for n in parts.values()])
    backend = "localcloud" if args.backend == "local" else args.backend
    specs = kits.scenarios(stacks, extended=args.extended, backend=backend)
    elsewhere = [s for s in kits.scenarios(stacks, extended=args.extended) if not s.plays_on(backend)]
    if not specs:
        raise ConfigError("no scenarios for " + ", ".join(stacks) + ("" if args.extended else
                                                                      " (extended ones need --extended)"))
    for spec in specs:  # a budget that is missing or malformed fails here, not after the deploy
        budgets.budget_for(spec.stack_id, spec.budget_key, profile,
                           budgets.budget_file(spec.stack_id, Path(args.budgets), spec.budgets),
                           scenario=spec.name)
    refuse_before_deploy(kits, specs, params, profile, Path(args.budgets))  # a --param that breaks the budget
    if args.backend == "local" and not args.dry_run:  # the programs localcloud and these stacks run for real
        debian.require(debian.for_local_run(p.template for s in stacks for p in kits.get(s).parts))
    return Plan(kits, stacks, specs, profile, elsewhere)


def _check_more(args: argparse.Namespace) -> None:
    """The inputs the children would otherwise find wrong only after a deploy: -k, load options, run id."""
    if args.keyword is not None:
        try:  # pytest's own parser: what the children will compile
            Expression.compile(args.keyword)
        except SyntaxError as exc:
            raise ConfigError(f"-k {args.keyword[:80]!r} is not a pytest -k expression: column {exc.offset}: "
                              f"{exc.msg}") from None
        if "(" in args.keyword and "=" in args.keyword:  # pytest refuses call parameters only while matching
            raise ConfigError(f"-k {args.keyword[:80]!r}: keyword expressions take no call parameters")
    load = LoadSettings(args.load, users=args.load_users, rate=args.load_rate, duration_s=args.load_duration,
                        processes=args.load_processes)
    if load.enabled:
        load.config()  # the shape's own bounds with these values (e.g. a duration past the shape's cap)
    if args.run_id is not None:
        check_run_id(args.run_id)


def _label(args: argparse.Namespace, plan: Plan) -> str:
    if args.backend == "local":
        return f"localcloud, time profile {plan.profile}"
    return f"backend aws{' at ' + args.endpoint_url if args.endpoint_url else ''}, judged against time profile " \
           f"{plan.profile}"


def _scenario_file(plan: Plan, stack_id: str) -> Path:
    if stack_id in plan.kits.team:
        return FILES.scenarios_dir / "test_stacks_dir.py"
    return FILES.scenarios_dir / f"test_{stack_id.replace('-', '_')}.py"


def _units(args: argparse.Namespace, plan: Plan) -> dict[str, tuple[str, list[str]]]:
    """Child name -> (pytest target, extra options), longest first: a stack's scenarios, (--split scenario) one
    test, or (--split auto) a stack too long for one child in a few children of its own (gameday.cli.units)."""
    backend = "localcloud" if args.backend == "local" else "aws"
    timings = measured_timings(Path(args.report_dir), backend, plan.profile) if args.split == "auto" else Timings()
    units: dict[str, tuple[str, list[str]]] = {}
    for unit in plan_units(plan.specs, plan.stacks, args.split, args.jobs or os.cpu_count() or 1, timings):
        extra = ["--kit-stack", unit.stack] if unit.stack in plan.kits.team else []
        if not unit.whole_stack:
            chosen = " or ".join(_test_id(plan, spec) for spec in unit.specs)
            # pytest keeps the last -k only: the user's expression narrows the child's own, never replaces it.
            extra += ["-k", f"({chosen}) and ({args.keyword})" if args.keyword else chosen]
        units[unit.name] = (str(_scenario_file(plan, unit.stack)), extra)
    if not units:
        raise ConfigError("no scenario selected")
    return units


def _unit_of(plan: Plan, spec: ScenarioSpec, units: dict[str, tuple[str, list[str]]]) -> str:
    """The child that plays `spec`: its stack's, or the one whose -k names it."""
    for name, (_, extra) in units.items():
        if name == spec.stack_id or (name.startswith(f"{spec.stack_id}.") and "-k" in extra
                                     and _test_id(plan, spec) in extra[extra.index("-k") + 1].split(" or ")):
            return name
    return spec.stack_id


def _test_id(plan: Plan, spec: ScenarioSpec) -> str:
    return spec.scenario_id.replace("/", ":") if spec.stack_id in plan.kits.team else spec.name


def _markers(args: argparse.Namespace) -> str:
    return "scenario" if args.extended else "scenario and not extended"


def _command(args: argparse.Namespace, paths: RunPaths, name: str, unit: tuple[str, list[str]]) -> list[str]:
    target, extra = unit
    parts = paths.folder / "parts"
    # -P: the folder the user runs in (an installed gameday's children run there) is not put first on the
    # import path, so a package of the team's named like one of gameday's (fixtures/) cannot hide it.
    command = [sys.executable, "-P", "-m", "pytest", target, "-m", _markers(args), "-p", "no:cacheprovider",
               "-o", "testpaths=scenarios", "-W", "default", "-q", "-rfE", *forward(vars(args)),
               "--report-part", name, "--progress-file", str(parts / f"{name}.progress.jsonl"), *extra]
    if args.keyword and "-k" not in extra:
        command += ["-k", args.keyword]
    return command


def _run_children(args: argparse.Namespace, paths: RunPaths, units: dict[str, tuple[str, list[str]]],
                  jobs: int) -> Ended:
    """Every unit's pytest child; on Ctrl-C or SIGTERM each reverts and tears down and we wait for them."""
    (paths.folder / "parts").mkdir(parents=True, exist_ok=True)
    commands = {name: _command(args, paths, name, unit) for name, unit in units.items()}
    cwd, env = FILES.child_cwd(Path.cwd()), FILES.child_env(os.environ)  # installed: where the user runs it
    return run_children(Children(commands, paths.folder / "parts", cwd, env,
                                 jobs, paths.journal, STOP_GRACE_S[args.backend]))


def _refusal(paths: RunPaths, codes: dict[str, int]) -> str | None:
    """A child's refusal (or usage error) in one line: the one it wrote, else pytest's ERROR line."""
    preflight = sorted((paths.folder / "parts").glob("*.preflight.refused"))  # one line per failed check
    if preflight:
        return "\n".join(p.read_text().strip() for p in preflight)
    for name, code in codes.items():
        if code != USAGE_ERROR:
            continue
        said = paths.folder / "parts" / f"{name}.refused"
        if said.exists():
            return said.read_text().strip()
        log = paths.folder / "parts" / f"{name}.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
        return errors[-1] if errors else f"{name}: refused or bad usage (see {log})"
    return None


def _explain_child(paths: RunPaths, name: str, code: int) -> None:
    if code in (0, TESTS_FAILED, NO_TESTS_COLLECTED) or interrupted(code):  # the report and one line say it
        return
    log = paths.folder / "parts" / f"{name}.log"
    tail = log.read_text().splitlines()[-15:] if log.exists() else []
    print(f"gameday run: {name}: {child_outcome(code)}; last lines of {log}:", file=sys.stderr)
    for line in tail:
        print(f"  {line}", file=sys.stderr)


def _not_run(args: argparse.Namespace, plan: Plan, paths: RunPaths, parts: list[dict[str, Any]],
             ended: Ended, units: dict[str, tuple[str, list[str]]]) -> list[tuple[ScenarioSpec, str]]:
    """Expected scenarios with no result: a child that crashed, was refused, stopped or skipped them. Each
    becomes a `not run` row with the reason, so no gate reads a missing scenario as green."""
    if args.keyword:  # the parent cannot evaluate a -k expression; the children's exit codes tell
        return []
    seen = {(s["stack"], s["scenario"]) for p in parts for s in p["scenarios"]}
    missing: list[tuple[ScenarioSpec, str]] = []
    for spec in plan.specs:
        if any(stack == spec.stack_id and (name == spec.name or name.startswith(f"{spec.name}-"))
               for stack, name in seen):
            continue
        unit = _unit_of(plan, spec, units)
        code = ended.codes.get(unit)
        log = paths.folder / "parts" / f"{unit}.log"
        if unit in ended.killed:
            missing.append((spec, f"no result: its pytest child was killed {STOP_GRACE_S[args.backend]:.0f} s "
                                  f"after {ended.stopped_by} (see {log})"))
        elif ended.stopped_by or (code is not None and interrupted(code)):
            missing.append((spec, f"not started: the run was interrupted by {ended.stopped_by or 'a signal'}"))
        else:
            why = "never started" if code is None else child_outcome(code)
            missing.append((spec, f"no result: its pytest child {why} (see {log})"))
    return missing


def _not_run_part(args: argparse.Namespace, paths: RunPaths, plan: Plan,
                  missing: list[tuple[ScenarioSpec, str]]) -> dict[str, Any]:
    backend = "localcloud" if args.backend == "local" else "aws"
    now = time.time()
    report = RunReport(paths.run_id, backend, plan.profile, started_at=now, ended_at=now)
    for spec, reason in missing:
        report.scenarios.append(ScenarioResult(
            stack_id=spec.stack_id, scenario=spec.name, fault=spec.fault, target="", backend=backend,
            profile=plan.profile, budget_s=0.0, fault_at=None, failover=None, prediction=None,
            verdict=Verdict.NOT_RUN, message=reason, timeline=Timeline(paths.run_id, now, time.monotonic())))
    return report.to_dict()


def _exit_code(paths: RunPaths, ended: Ended, data: dict[str, object],
               gated: list[GateVerdict] | None = None) -> int:
    for name, code in ended.codes.items():
        _explain_child(paths, name, code)
    scenarios = data["scenarios"]
    assert isinstance(scenarios, list)
    for s in scenarios:
        if s["verdict"] != "passed":
            print(f"gameday run: {str(s['verdict']).upper()} {s['stack']} / {s['scenario']}: {s['message']}",
                  file=sys.stderr)
    if _interrupted_by(ended):
        print(_interrupted_line(paths, ended), file=sys.stderr)
        return 130
    for verdict in gated or []:
        print(f"gameday run: {verdict.line()}", file=sys.stderr)
    if any(not v.passed for v in gated) if gated is not None else any(s["verdict"] == "failed" for s in scenarios):
        return 1
    if any(s["verdict"] in ("not run", "error") for s in scenarios):
        return 3
    excused = {v.key.split("/")[0] for v in gated or [] if v.over_budget}  # failed attempts the gate outvoted
    asserted = [name for name, code in ended.codes.items()
                if code == TESTS_FAILED and name.split(".")[0] not in excused]
    if asserted:  # a scenario's own check after its verdict (e.g. measured vs model) failed: still a failure
        for name in asserted:
            print(f"gameday run: FAILED {name}: {_failed_line(paths, name)}", file=sys.stderr)
        return 1
    if any(code not in (0, TESTS_FAILED, NO_TESTS_COLLECTED) for code in ended.codes.values()) or not (
            data["passed"] or gated):
        return 3
    return 0


def _failed_line(paths: RunPaths, name: str) -> str:
    """What pytest's short summary said failed (`-rfE`: "FAILED test - message"), else where the log is."""
    log = paths.folder / "parts" / f"{name}.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    said = [line.split(" - ", 1)[1] for line in lines if line.startswith(("FAILED ", "ERROR ")) and " - " in line]
    return said[-1] if said else f"a scenario check failed after its verdict; see {log}"


def _interrupted_by(ended: Ended) -> str | None:
    if ended.stopped_by:
        return ended.stopped_by
    return "a signal to a child" if any(interrupted(code) for code in ended.codes.values()) else None


def _interrupted_line(paths: RunPaths, ended: Ended) -> str:
    """What the interrupt left: every injected fault reverted, or which are not and how to revert them."""
    try:
        entries = RollbackJournal(paths.journal).entries()
    except GamedayError:
        entries = []
    reverted = sum(1 for e in entries if e.state == "reverted")
    done = f"{len(entries)} fault(s) injected, {reverted} reverted" if entries else "no fault was injected"
    return f"gameday run: interrupted by {_interrupted_by(ended)}; {done}; {what_is_left(paths.journal)}"
