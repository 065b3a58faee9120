"""`gameday run`: the game day. One pytest child per stack, in parallel, each with its own localcloud;
the parent prints a live progress line per scenario, merges the children's parts into one report and
exits non-zero when a scenario failed (naming the phase that took the time)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gameday.budgets import DEFAULT_CONFIG
from gameday.cli.progress import ProgressBoard
from gameday.errors import ConfigError
from gameday.reports import merge, read_parts, write_outputs
from gameday.run import RunPaths
from gameday.stacks import available_stacks
from localcloud import profiles

ROOT = Path(__file__).resolve().parents[2]
NO_TESTS_COLLECTED = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n"
                     "  gameday run                                       every stack, localcloud, fast profile\n"
                     "  gameday run --stack eip-self-healing --repeat 5   one stack, a distribution of 5 runs\n"
                     "  gameday run --profile realistic --load steady     AWS-like timings under load\n"
                     "exit status: 0 every scenario within budget, 1 a scenario failed (the message names the phase),\n"
                     "2 bad usage, 3 the suite itself broke, 130 interrupted (faults reverted)")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    where = parser.add_argument_group("where")
    where.add_argument("--backend", choices=("local", "aws"), default="local",
                       help="where the stacks run (default: local, i.e. localcloud, offline)")
    where.add_argument("--profile", default="fast",
                       help=f"localcloud time profile: {', '.join(profiles.available())} (default: fast)")
    where.add_argument("--seed", type=int, default=None, help="seed for localcloud's jittered delays")
    what = parser.add_argument_group("what")
    what.add_argument("--stack", action="append", default=[], metavar="ID",
                      help="only this stack's scenarios (repeatable; default: every stack)")
    what.add_argument("--extended", action="store_true",
                      help="also the scenarios marked extended (longer or rarer faults; `make gameday` runs the "
                           "core ones)")
    what.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                      help="only scenarios matching this pytest -k expression")
    what.add_argument("--param", action="append", default=[], metavar="STACK.KEY=VALUE",
                      help="deploy STACK with template parameter KEY=VALUE (repeatable); the prediction "
                           "reads the deployed value too")
    what.add_argument("--repeat", type=int, default=1, metavar="N",
                      help="run every scenario N times and report p50/p95/max (default: 1)")
    what.add_argument("--load", choices=("none", "steady", "10x", "soak"), default="none",
                      help="run every scenario under locust load of this shape (default: none)")
    what.add_argument("--load-users", type=int, default=None, metavar="N", help="normal load users")
    what.add_argument("--load-rate", type=float, default=None, metavar="RPS", help="normal load requests/s")
    how = parser.add_argument_group("how")
    how.add_argument("--budgets", default=str(DEFAULT_CONFIG), metavar="TOML",
                     help="budgets file (default: gameday.toml)")
    how.add_argument("--split", choices=("stack", "scenario"), default="stack",
                     help="one pytest child (and localcloud) per stack, or per scenario (default: stack)")
    how.add_argument("--jobs", type=int, default=0, metavar="N",
                     help="pytest children at a time, each with its own localcloud (default: one per CPU core)")
    how.add_argument("--report-dir", default="reports", help="where reports/<run-id>/ goes (default: reports)")
    how.add_argument("--run-id", default=None, help="run id (default: UTC timestamp + random suffix)")
    how.add_argument("--dry-run", action="store_true",
                     help="print each scenario's faults, targets and reverts (as `gameday plan`) and change nothing")


def main(args: argparse.Namespace) -> int:
    stacks = _check(args)
    if args.dry_run:
        from gameday import catalog
        from gameday.cli.plan import print_static_plan

        for scenario in catalog.select(stacks):
            print_static_plan(scenario)
        print("(dry run: nothing deployed, nothing injected; `gameday plan --local` resolves the targets)")
        return 0
    paths = RunPaths.create(args.run_id, Path(args.report_dir).resolve())
    units = _units(args, stacks)
    # One localcloud per core by default: more at once starve each other's health checkers and probes.
    jobs = min(args.jobs or os.cpu_count() or 1, len(units))
    print(f"gameday run {paths.run_id}: {_label(args)}; {len(stacks)} stack(s) in {len(units)} pytest child(ren), "
          f"{jobs} at a time; report in {paths.folder}", flush=True)
    started = time.monotonic()
    codes = _run_children(args, paths, units, jobs)
    parts = read_parts(paths.folder)
    if not parts:
        for stack, code in codes.items():
            _explain_child(paths, stack, code)
        if any(code in (2, 130) for code in codes.values()):
            print("gameday run: interrupted; injected faults were reverted (see rollback.jsonl)", file=sys.stderr)
            return 130
        print("gameday run: no scenario ran (see the logs above)", file=sys.stderr)
        return 3
    data = merge(parts)
    folder = write_outputs(data, paths.reports_dir)
    for part in (paths.folder / "parts").glob("*.json"):  # merged into report.json; logs and progress stay
        part.unlink()
    print()
    print((folder / "summary.md").read_text())
    print(f"game day took {time.monotonic() - started:.0f} s")
    print(f"report: {folder / 'report.json'}")
    print(f"HTML report: {folder / 'report.html'}")
    return _exit_code(paths, codes, data)


def _check(args: argparse.Namespace) -> list[str]:
    if args.profile not in profiles.available():
        raise ConfigError(f"unknown time profile {args.profile!r} (available: {', '.join(profiles.available())})")
    if args.repeat < 1:
        raise ConfigError(f"--repeat must be at least 1, got {args.repeat}")
    if not Path(args.budgets).is_file():
        raise ConfigError(f"budgets file {args.budgets} not found")
    known = available_stacks()
    for param in args.param:
        target, _, assignment = param.partition(".")
        if target not in known or "=" not in assignment:
            raise ConfigError(f"--param {param!r}: expected STACK.KEY=VALUE with STACK one of {', '.join(known)}")
    for stack in args.stack:
        if stack not in known:
            raise ConfigError(f"unknown stack {stack!r} (available: {', '.join(known)})")
    stacks = [s for s in (args.stack or known) if _scenario_file(s).exists()]
    if not stacks:
        raise ConfigError("no scenarios for " + ", ".join(args.stack or known))
    return stacks


def _label(args: argparse.Namespace) -> str:
    return f"localcloud, time profile {args.profile}" if args.backend == "local" else "aws"


def _scenario_file(stack_id: str) -> Path:
    return ROOT / "scenarios" / f"test_{stack_id.replace('-', '_')}.py"


def _units(args: argparse.Namespace, stacks: list[str]) -> dict[str, str]:
    """Child name -> pytest target: a stack's scenario file, or (--split scenario) one collected test."""
    if args.split == "stack":
        # Longest first (most scenarios), so that with --jobs below the stack count the slots even out.
        from gameday import catalog

        def weight(stack: str) -> int:
            return sum(1 for spec in catalog.SCENARIOS.values() if spec.stack_id == stack)

        return {stack: str(_scenario_file(stack)) for stack in sorted(stacks, key=weight, reverse=True)}
    units: dict[str, str] = {}
    for stack in stacks:
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                   "-m", _markers(args), "-o", "testpaths=scenarios", str(_scenario_file(stack))]
        command += ["-k", args.keyword] if args.keyword else []
        listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        for node in (line.strip() for line in listed.stdout.splitlines()):
            if "::" in node:
                units[f"{stack}.{node.rsplit('::', 1)[1].removeprefix('test_')}"] = str(ROOT / node)
    if not units:
        raise ConfigError("no scenario selected" + (f" by -k {args.keyword!r}" if args.keyword else ""))
    return units


def _markers(args: argparse.Namespace) -> str:
    return "scenario" if args.extended else "scenario and not extended"


def _command(args: argparse.Namespace, paths: RunPaths, name: str, target: str) -> list[str]:
    parts = paths.folder / "parts"
    command = [sys.executable, "-m", "pytest", target, "-m", _markers(args), "-p", "no:cacheprovider",
               "-o", "testpaths=scenarios", "-W", "default", "-q", "-rfE", "--backend", args.backend,
               "--profile", args.profile, "--run-id", paths.run_id, "--report-dir", str(paths.reports_dir),
               "--report-part", name, "--progress-file", str(parts / f"{name}.progress.jsonl"),
               "--repeat", str(args.repeat), "--budgets", str(Path(args.budgets).resolve()), "--load", args.load]
    if args.keyword:
        command += ["-k", args.keyword]
    for param in args.param:
        command += ["--stack-param", param]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.load_users is not None:
        command += ["--load-users", str(args.load_users)]
    if args.load_rate is not None:
        command += ["--load-rate", str(args.load_rate)]
    return command


def _run_children(args: argparse.Namespace, paths: RunPaths, units: dict[str, str], jobs: int) -> dict[str, int]:
    """Start up to `jobs` children, print progress until all have ended; on Ctrl-C each child reverts
    and tears down (it got the terminal's SIGINT itself) and we wait for them."""
    (paths.folder / "parts").mkdir(parents=True, exist_ok=True)
    waiting = list(units)
    running: dict[str, subprocess.Popen[bytes]] = {}
    codes: dict[str, int] = {}
    board = ProgressBoard(paths.folder / "parts", sys.stdout)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def forward_term(*_: object) -> None:
        for child in running.values():
            child.send_signal(signal.SIGTERM)

    term_previous = signal.signal(signal.SIGTERM, forward_term)
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                name = waiting.pop(0)
                log = (paths.folder / "parts" / f"{name}.log").open("w")
                running[name] = subprocess.Popen(_command(args, paths, name, units[name]), cwd=ROOT, stdout=log,
                                                 stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
                log.close()
                print(f"  {name}: started (log: {paths.folder / 'parts' / f'{name}.log'})", flush=True)
            for name, child in list(running.items()):
                if child.poll() is not None:
                    codes[name] = child.returncode
                    del running[name]
                    board.update()
                    print(f"  {name}: done ({_child_outcome(child.returncode)})", flush=True)
            board.update()
            time.sleep(0.5)
    finally:
        for name, child in running.items():  # only after an error here: the children finish their reverts
            codes[name] = child.wait()
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, term_previous)
    return codes


def _child_outcome(code: int) -> str:
    return {0: "all passed", 1: "a scenario failed", 2: "interrupted", 130: "interrupted",
            NO_TESTS_COLLECTED: "no scenario selected"}.get(code, f"pytest exit {code}")


def _explain_child(paths: RunPaths, name: str, code: int) -> None:
    if code in (0, 1, NO_TESTS_COLLECTED):
        return
    log = paths.folder / "parts" / f"{name}.log"
    tail = log.read_text().splitlines()[-15:] if log.exists() else []
    print(f"gameday run: {name}: {_child_outcome(code)}; last lines of {log}:", file=sys.stderr)
    for line in tail:
        print(f"  {line}", file=sys.stderr)


def _exit_code(paths: RunPaths, codes: dict[str, int], data: dict[str, object]) -> int:
    for name, code in codes.items():
        _explain_child(paths, name, code)
    scenarios = data["scenarios"]
    assert isinstance(scenarios, list)
    for s in scenarios:
        if s["verdict"] != "passed":
            print(f"gameday run: FAILED {s['stack']} / {s['scenario']}: {s['message']}", file=sys.stderr)
    if any(code in (2, 130) for code in codes.values()):
        print("gameday run: interrupted; injected faults were reverted (see rollback.jsonl)", file=sys.stderr)
        return 130
    if any(s["verdict"] == "failed" for s in scenarios):
        return 1
    asserted = [name for name, code in codes.items() if code == 1]
    if asserted:  # a scenario's own check after its verdict (e.g. measured vs model) failed: still a failure
        for name in asserted:
            print(f"gameday run: FAILED {name}: a scenario check failed after its verdict; see "
                  f"{paths.folder / 'parts' / (name + '.log')}", file=sys.stderr)
        return 1
    if any(code not in (0, 1, NO_TESTS_COLLECTED) for code in codes.values()) or not data["passed"]:
        return 3
    return 0
