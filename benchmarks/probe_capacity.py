"""Benchmark: how many samples per second the probes sustain on one core, and how late they send.

The probe process is pinned to one core, the loopback targets run in another process on the other.
1. `combined`: HTTP fresh, HTTP keep-alive, DNS and health at 200 Hz each, together, for `--duration`.
   Target: each >= 200 samples/s, p99 send lateness <= 5 ms.
2. `per_kind`: for each kind, 1, 2, 4, ... probes of that kind at 200 Hz for `--step` s, until one
   step misses (p99 lateness > 5 ms or < 99 % of the samples due); the last step that held is the
   sustained rate of that kind on one core.
Writes benchmarks/results/probe_capacity.json.

    python -m benchmarks.probe_capacity [--duration 30] [--step 4] [--max-probes 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import PROBE_CPU, load, pin, summary_ms, targets, write_result
from gameday.probes import DnsProbe, HealthProbe, HttpProbe, ProbeRunner
from gameday.probes.specs import AnyProbe
from gameday.timeline import Timeline

RATE_HZ = 200.0
LATENESS_LIMIT_S = 0.005
DUE_SHARE = 0.99
Factory = Callable[[str], AnyProbe]


def kinds(t: Any) -> dict[str, Factory]:
    return {
        "http": lambda n: HttpProbe(n, t.http_url, RATE_HZ, timeout_s=1.0),
        "http_keepalive": lambda n: HttpProbe(n, t.http_url, RATE_HZ, timeout_s=1.0, keepalive=True),
        "dns": lambda n: DnsProbe(n, "app.bench.test.", server=t.dns_server, rate_hz=RATE_HZ, timeout_s=1.0),
        "health": lambda n: HealthProbe(n, t.http_url + "health", RATE_HZ, timeout_s=1.0),
    }


def measure(probes: list[AnyProbe], duration_s: float) -> dict[str, Any]:
    timeline = Timeline.begin("capacity")
    cpu0, wall0 = time.process_time(), time.monotonic()
    with ProbeRunner(timeline, probes, duration_s=duration_s) as runner:
        if not runner.wait_done(duration_s + 30.0):
            raise RuntimeError("probes did not finish")
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    per_probe = {}
    for spec in probes:
        samples = timeline.samples_of(spec.name)
        due = round(duration_s * spec.rate_hz)
        lateness = summary_ms([max(0.0, s.lateness_s) for s in samples])
        span = (samples[-1].sent_mono - samples[0].sent_mono) if len(samples) > 1 else 0.0
        per_probe[spec.name] = {
            "kind": spec.kind, "samples": len(samples), "due": due,
            "samples_per_s": round(len(samples) / duration_s, 1),
            "send_rate_hz": round((len(samples) - 1) / span, 1) if span else None,
            "ok_share": round(sum(s.good for s in samples) / len(samples), 4) if samples else 0.0,
            "lateness": lateness, "latency": summary_ms([s.latency_s for s in samples if s.latency_s is not None]),
            "held": bool(samples) and len(samples) >= DUE_SHARE * due
            and (lateness["p99_ms"] or 0.0) <= LATENESS_LIMIT_S * 1e3}
    return {"duration_s": duration_s, "cpu_share_of_one_core": round(cpu / wall, 3), "probes": per_probe,
            "held": all(p["held"] for p in per_probe.values())}


def per_kind(t: Any, step_s: float, max_probes: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind, make in kinds(t).items():
        steps, sustained = [], 0.0
        count = 1
        while count <= max_probes:
            run = measure([make(f"{kind}-{i}") for i in range(count)], step_s)
            lateness_p99 = max(p["lateness"]["p99_ms"] or 0.0 for p in run["probes"].values())
            rate = sum(p["samples_per_s"] for p in run["probes"].values())
            steps.append({"probes": count, "samples_per_s": round(rate, 1), "lateness_p99_ms": lateness_p99,
                          "ok_share": min(p["ok_share"] for p in run["probes"].values()),
                          "cpu_share_of_one_core": run["cpu_share_of_one_core"], "held": run["held"]})
            print(f"  {kind:>14} x{count:<3} {rate:7.1f} samples/s  p99 late {lateness_p99:6.2f} ms  "
                  f"cpu {run['cpu_share_of_one_core']:.2f}  {'held' if run['held'] else 'MISSED'}", flush=True)
            if not run["held"]:
                break
            sustained = rate
            count *= 2
        found[kind] = {"sustained_samples_per_s": sustained, "steps": steps,
                       "capped_by_max_probes": count > max_probes}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="combined run, seconds")
    parser.add_argument("--step", type=float, default=4.0, help="each per-kind step, seconds")
    parser.add_argument("--max-probes", type=int, default=16, help="per-kind ramp stops here")
    parser.add_argument("--skip-per-kind", action="store_true")
    args = parser.parse_args(argv)
    load_before = load()
    pinned = pin(PROBE_CPU)
    with targets() as t:
        factories = kinds(t)
        combined = measure([make(f"{kind}") for kind, make in factories.items()], args.duration)
        for name, p in combined["probes"].items():
            print(f"combined {name:>14}: {p['samples_per_s']:.1f} samples/s, p99 late {p['lateness']['p99_ms']} ms, "
                  f"ok {p['ok_share']:.4f}  {'held' if p['held'] else 'MISSED'}", flush=True)
        print(f"combined cpu share of one core: {combined['cpu_share_of_one_core']}", flush=True)
        ramp = {} if args.skip_per_kind else per_kind(t, args.step, args.max_probes)
    path = write_result("probe_capacity", {
        "rate_hz_per_probe": RATE_HZ, "probe_cpu": pinned,
        "target": "4 probes (http, http_keepalive, dns, health) each >= 200 samples/s, p99 send lateness <= 5 ms",
        "combined": combined, "per_kind": ramp, "pass": combined["held"]}, load_before=load_before)
    print(f"wrote {path}")
    return 0 if combined["held"] else 1


if __name__ == "__main__":
    sys.exit(main())
