"""Run every benchmark module (benchmarks/<name>.py with a main()) as its own process; each writes
benchmarks/results/<name>.json. side_by_side runs last and puts their headline figures in one table
(benchmarks/results/side_by_side.json). Run them on a quiet machine: the numbers are timing-sensitive.

    python -m benchmarks.run_all [--quick] [NAME ...]

--quick runs only the cheap ones (no localcloud, no game day: about the probes on loopback targets), then
side_by_side, which still lists every other file's figures with when they were measured.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from gameday.errors import ConfigError

HERE = Path(__file__).resolve().parent
SUMMARY = "side_by_side"
QUICK = ("probe_accuracy", "probe_capacity")
# The arguments a benchmark needs in a run of all (its runs are kept under this label).
ARGUMENTS = {"gameday_speed": ["--label", "make-benchmarks"]}


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all")


def plan(names: list[str], quick: bool) -> list[str]:
    """The benchmarks to run, in order: the chosen ones, then the summary of all results."""
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"no benchmark named {', '.join(unknown)} (known: {', '.join(known)})")
    chosen = names or [n for n in known if not quick or n in QUICK]
    return [n for n in chosen if n != SUMMARY] + [SUMMARY]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, then {SUMMARY}")
    parser.add_argument("names", nargs="*", help="only these benchmarks (the summary always runs last)")
    args = parser.parse_args(argv)
    if args.quick and args.names:
        parser.error("--quick or benchmark names, not both")
    try:
        names = plan(args.names, args.quick)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"== benchmark {name}", flush=True)
        command = [sys.executable, "-m", f"benchmarks.{name}", *ARGUMENTS.get(name, [])]
        if subprocess.run(command, cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks below their target or broken: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
