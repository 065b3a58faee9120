"""Benchmark: N terminate-instance failovers of eip-self-healing on localcloud vs the profile's prediction.

Writes benchmarks/results/eip_failover.json: each run's measured failover time, the prediction
(detection + launch + pending + boot + association), their ratio, and localcloud's ground truth
for the user-data run time (the one part that is real, not a profile number).

    python -m benchmarks.eip_failover [--runs 5] [--profile fast]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gameday import stacks
from gameday.backends.local import LocalBackend
from gameday.clock import SystemClock
from gameday.faults import RollbackJournal
from gameday.faults.terminate_instance import TerminateInstance
from gameday.kits.eip_self_healing import model
from gameday.probes import HttpProbe
from gameday.scenario import FailoverRun, WatchPolicy, run_failover
from gameday.timeline import Timeline
from localcloud import profiles

RESULTS = Path(__file__).resolve().parent / "results"
STACK = "eip-self-healing"


def _userdata_seconds(timeline: Timeline, fault_at: float) -> float | None:
    starts = [e.at for e in timeline.events_of("localcloud.userdata.start") if e.at > fault_at]
    exits = [e.at for e in timeline.events_of("localcloud.userdata.exit") if e.at > fault_at]
    return round(exits[0] - starts[0], 3) if starts and exits else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--rate", type=float, default=20.0, help="probe rate, Hz")
    args = parser.parse_args(argv)
    profile = profiles.load(args.profile)
    prediction = model.terminate_instance(profile, None)
    assert prediction is not None
    clock = SystemClock()
    rows = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, \
            LocalBackend(profile=profile.name) as backend:
        stack = stacks.deploy(backend, stacks.StackSpec(STACK, {"ZoneName": "bench.gameday.test"}), "bench")
        try:
            for index in range(args.runs):
                timeline = Timeline("bench", clock.now(), clock.monotonic())
                run = FailoverRun(
                    backend=backend, stack_id=STACK, scenario="terminate-instance",
                    fault=TerminateInstance(backend, stack.output("AutoScalingGroupName")),
                    probes=[HttpProbe("http:eip", stack.output("ServiceUrl"), rate_hz=args.rate, timeout_s=0.5)],
                    primary_probe="http:eip", budget_s=prediction.high_s * 2, prediction=prediction,
                    journal=RollbackJournal(Path(tmp) / "rollback.jsonl"), timeline=timeline, clock=clock,
                    policy=WatchPolicy(watch_timeout_s=prediction.high_s * 3 + 30))
                result = run_failover(run)
                measured = result.failover_time_s
                rows.append({
                    "run": index, "verdict": result.verdict, "measured_s": measured,
                    "predicted_s": round(prediction.mean_s, 3),
                    "ratio": round(measured / prediction.mean_s, 4) if measured else None,
                    "userdata_s": _userdata_seconds(timeline, result.fault_at or 0.0),
                })
                print(f"run {index}: {rows[-1]}", flush=True)
        finally:
            stacks.delete(backend, stack)
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    summary = {
        "benchmark": "eip_failover", "backend": "localcloud", "profile": profile.name,
        "probe_rate_hz": args.rate, "prediction": prediction.to_dict(), "runs": rows,
        "ratio": {"min": min(ratios), "median": statistics.median(ratios), "max": max(ratios)} if ratios else None,
        "within_20_percent": bool(ratios) and len(ratios) == len(rows) and all(0.8 <= r <= 1.2 for r in ratios),
        "wall_s": round(time.time() - started, 1),
        "note": "ratio = measured / prediction; the prediction excludes the user-data run time (userdata_s)",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "eip_failover.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("ratio", "within_20_percent", "wall_s")}))
    return 0 if summary["within_20_percent"] else 1


if __name__ == "__main__":
    sys.exit(main())
