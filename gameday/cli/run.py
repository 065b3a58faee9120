"""`gameday run`: the game day. Wraps pytest over scenarios/ in a child process and prints the summary."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from gameday.errors import ConfigError
from gameday.run import RunPaths
from gameday.stacks import available_stacks
from localcloud import profiles

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("local", "aws"), default="local",
                        help="where the stacks run (default: local, i.e. localcloud, offline)")
    parser.add_argument("--profile", default="fast", help="localcloud time profile (default: fast)")
    parser.add_argument("--stack", action="append", default=[], metavar="ID",
                        help="only this stack's scenarios (repeatable; default: every stack)")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                        help="only scenarios matching this pytest -k expression")
    parser.add_argument("--seed", type=int, default=None, help="seed for localcloud's jittered delays")
    parser.add_argument("--report-dir", default="reports", help="where reports/<run-id>/ goes")
    parser.add_argument("--run-id", default=None, help="run id (default: timestamp + suffix)")
    parser.add_argument("--load", choices=("none", "steady", "10x", "soak"), default="none",
                        help="run every scenario under locust load of this shape (default: none)")
    parser.add_argument("--load-users", type=int, default=None, metavar="N", help="normal load users")
    parser.add_argument("--load-rate", type=float, default=None, metavar="RPS", help="normal load requests/s")


def main(args: argparse.Namespace) -> int:
    if args.profile not in profiles.available():
        raise ConfigError(f"unknown time profile {args.profile!r} (available: {', '.join(profiles.available())})")
    known = available_stacks()
    for stack in args.stack:
        if stack not in known:
            raise ConfigError(f"unknown stack {stack!r} (available: {', '.join(known)})")
    paths = RunPaths.create(args.run_id, Path(args.report_dir).resolve())
    targets = [str(_scenario_file(s)) for s in args.stack] or [str(ROOT / "scenarios")]
    command = [sys.executable, "-m", "pytest", *targets, "-m", "scenario", "-p", "no:cacheprovider",
               "-o", "testpaths=scenarios", "-W", "default", "-q", "--backend", args.backend, "--profile", args.profile,
               "--run-id", paths.run_id, "--report-dir", str(paths.reports_dir)]
    if args.keyword:
        command += ["-k", args.keyword]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    command += ["--load", args.load]
    if args.load_users is not None:
        command += ["--load-users", str(args.load_users)]
    if args.load_rate is not None:
        command += ["--load-rate", str(args.load_rate)]
    print(f"gameday run {paths.run_id}: backend {_label(args)}; report in {paths.folder}", flush=True)
    code = _run_child(command)
    summary = paths.folder / "summary.md"
    if summary.exists():
        print()
        print(summary.read_text())
        print(f"report: {paths.folder / 'report.json'}")
    if code == 0:
        return 0
    if code == 1:
        return 1
    if code in (2, 130):  # pytest's "interrupted": reverts and teardowns have run
        print("gameday run: interrupted; injected faults were reverted (see rollback.jsonl)", file=sys.stderr)
        return 130
    print(f"gameday run: pytest ended with exit code {code} (no verdict)", file=sys.stderr)
    return 3


def _label(args: argparse.Namespace) -> str:
    return f"localcloud, time profile {args.profile}" if args.backend == "local" else "aws"


def _scenario_file(stack_id: str) -> Path:
    return ROOT / "scenarios" / f"test_{stack_id.replace('-', '_')}.py"


def _run_child(command: list[str]) -> int:
    """Run pytest in a child; on Ctrl-C the child reverts and tears down, and we wait for it."""
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child gets the terminal's SIGINT itself
    term_previous = signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, term_previous)
