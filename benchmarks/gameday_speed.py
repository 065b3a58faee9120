"""Benchmark: how long a whole game day takes, and what it costs in CPU, run the way a user runs it.

Each run is `python -m gameday run ...` in a process of its own; recorded per run: the game day's wall
time (the `game day took N s` line), the CPU time of the whole process tree (RUSAGE_CHILDREN: every pytest
child, localcloud and HAProxy, reaped), the load average before and after (the machine is shared), each
pytest child's own time (its log's last line), and every scenario's verdict and failover time. The runs
of one label are appended to benchmarks/results/gameday_speed.json with their medians, so the file
keeps the before, the after and the realistic profile side by side.

    python -m benchmarks.gameday_speed --runs 3 --label jobs3-split-auto -- --profile fast --jobs 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gameday_speed.json"
TOOK = re.compile(r"game day took (\d+) s")
REPORT = re.compile(r"report: (\S+report\.json)")
CHILD_TIME = re.compile(r" in ([\d.]+)s")


def one_run(gameday_args: list[str]) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "gameday", "run", *gameday_args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = TOOK.search(done.stdout)
    report_path = REPORT.search(done.stdout)
    run: dict[str, Any] = {
        "exit": done.returncode, "wall_s": round(wall, 1), "game_day_s": int(took.group(1)) if took else None,
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if report_path is None:
        run["error"] = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return run
    report = json.loads(Path(report_path.group(1)).read_text())
    run["run_id"] = report["run_id"]
    run["backend"], run["profile"] = report["backend"], report["profile"]
    run["children_s"] = _children(Path(report_path.group(1)).parent / "parts")
    run["verdicts"] = {f"{s['stack']}/{s['scenario']}": s["verdict"] for s in report["scenarios"]}
    run["failover_s"] = {f"{s['stack']}/{s['scenario']}": None if s["failover_time_s"] is None
                         else round(s["failover_time_s"], 2) for s in report["scenarios"]}
    return run


def _children(parts: Path) -> dict[str, float]:
    """Each pytest child's own duration, from pytest's last line (`... in 57.81s`)."""
    times: dict[str, float] = {}
    for log in sorted(parts.glob("*.log")):
        lines = log.read_text(errors="replace").strip().splitlines()
        found = CHILD_TIME.search(lines[-1]) if lines else None
        if found:
            times[log.stem] = float(found.group(1))
    return times


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    took = [r["game_day_s"] for r in runs if r.get("game_day_s") is not None]
    cpu = [r["cpu_s"] for r in runs]
    verdicts = [r.get("verdicts") for r in runs]
    return {
        "runs": len(runs),
        "game_day_s_median": statistics.median(took) if took else None,
        "game_day_s_max": max(took) if took else None,
        "cpu_s_median": statistics.median(cpu) if cpu else None,
        "all_passed_runs": sum(1 for v in verdicts if v and all(x == "passed" for x in v.values())),
        "scenarios_per_run": sorted({len(v) for v in verdicts if v}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--label", required=True, help="the key these runs are stored under")
    parser.add_argument("--note", default="", help="what was measured (e.g. which commit), kept with the runs")
    parser.add_argument("gameday_args", nargs=argparse.REMAINDER, help="after --: the `gameday run` options")
    args = parser.parse_args(argv)
    gameday_args = [a for a in args.gameday_args if a != "--"] or ["--backend", "local", "--profile", "fast"]
    results: dict[str, Any] = (json.loads(RESULTS.read_text()) if RESULTS.exists()
                               else {"benchmark": "gameday_speed", "labels": {}})
    entry: dict[str, Any] = {"command": ["gameday", "run", *gameday_args], "note": args.note,
                             "host_cpus": os.cpu_count(), "runs": []}
    for index in range(args.runs):
        run = one_run(gameday_args)
        entry["runs"].append(run)
        print(f"{args.label} run {index + 1}/{args.runs}: exit {run['exit']}, game day {run['game_day_s']} s, "
              f"cpu {run['cpu_s']} s, load {run['load_before'][0]} -> {run['load_after'][0]}", flush=True)
        entry["summary"] = summary(entry["runs"])
        results["labels"][args.label] = entry
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(entry["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
