"""Benchmark: how close the probes and the analysis put each phase boundary to the known truth.

A target process switches at scripted epoch times (HTTP refuses from `outage_start` to `outage_end`,
the DNS record flips at `dns_switch`); the probes, pinned to another core, sample at `--rate`, and
`gameday.analysis` turns the timeline into an outage window and a DNS convergence. Writes
benchmarks/results/probe_accuracy.json: measured - true per boundary, over `--trials` trials.

Target: p99 of |measured - true| <= one probe interval + 5 ms for every boundary.

    python -m benchmarks.probe_accuracy [--trials 20] [--rate 50]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from benchmarks._common import PROBE_CPU, load, pin, summary_ms, targets, write_result
from gameday.analysis import analyze
from gameday.probes import DnsProbe, HttpProbe, ProbeRunner
from gameday.probes.scripted import DnsMode
from gameday.timeline import Timeline

LEAD_S = 0.3  # sampling before the outage (the fault is "injected" halfway through it)
BOUNDARIES = ("outage_start", "outage_end", "dns_switch")


def trial(t: Any, index: int, rate_hz: float, rng: random.Random) -> dict[str, float]:
    interval = 1.0 / rate_hz
    old, new = (f"127.0.1.{index % 250 + 1}", f"127.0.2.{index % 250 + 1}")
    now = time.time()
    start = now + LEAD_S + 0.2 + rng.uniform(0, interval)  # the phase vs the schedule is random
    end = start + rng.uniform(0.3, 0.5)
    switch = start + rng.uniform(0.1, 0.3)
    t.script_dns([(now, DnsMode(answers=(old,), ttl=1)), (switch, DnsMode(answers=(new,), ttl=1))])
    t.script_http([(start, "refuse"), (end, "ok")])
    timeline = Timeline.begin(f"accuracy-{index}")
    probes = [HttpProbe("http", t.http_url, rate_hz, timeout_s=0.2),
              DnsProbe("dns", "app.bench.test.", server=t.dns_server, rate_hz=rate_hz, timeout_s=0.2)]
    with ProbeRunner(timeline, probes, duration_s=end - now + 0.6) as runner:
        if not runner.wait_done(30.0):
            raise RuntimeError("trial did not finish")
    result = analyze(timeline, fault_at=start - 0.1, probe="http", stable_window_s=0.3)
    outages = [w for w in result.outage_windows if w.since_fault_s >= -0.05]
    (dns,) = result.dns
    if len(outages) != 1 or outages[0].end_at is None or dns.first_at is None:
        raise RuntimeError(f"trial {index}: expected one closed outage and a DNS switch, got {result}")
    lateness = max(s.lateness_s for s in timeline.samples)
    return {"outage_start": outages[0].start_at - start, "outage_end": outages[0].end_at - end,
            "dns_switch": dns.first_at - switch, "max_send_lateness_s": lateness}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50.0, help="probe rate, Hz")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    interval = 1.0 / args.rate
    limit_s = interval + 0.005
    load_before = load()
    pinned = pin(PROBE_CPU)
    rng = random.Random(args.seed)
    rows = []
    with targets() as t:
        for index in range(args.trials):
            rows.append(trial(t, index, args.rate, rng))
    boundaries: dict[str, Any] = {}
    for name in BOUNDARIES:
        errors = [row[name] for row in rows]
        worst = summary_ms([abs(e) for e in errors])
        boundaries[name] = {"measured_minus_true": summary_ms(errors), "abs": worst,
                            "pass": worst["p99_ms"] is not None and worst["p99_ms"] <= limit_s * 1e3}
    passed = all(b["pass"] for b in boundaries.values())
    path = write_result("probe_accuracy", {
        "rate_hz": args.rate, "interval_ms": round(interval * 1e3, 3), "trials": args.trials,
        "target": "p99 |measured - true| <= interval + 5 ms", "limit_ms": round(limit_s * 1e3, 3),
        "probe_cpu": pinned, "boundaries": boundaries, "pass": passed,
        "trial_rows_ms": [{k: round(v * 1e3, 3) for k, v in row.items()} for row in rows]},
        load_before=load_before)
    for name, b in boundaries.items():
        print(f"{name:>13}: measured-true mean {b['measured_minus_true']['mean_ms']} ms, "
              f"p99 |err| {b['abs']['p99_ms']} ms (limit {limit_s * 1e3:.1f}) {'ok' if b['pass'] else 'FAIL'}")
    print(f"wrote {path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
