"""Benchmark: the requests/s locust sustains against one localcloud instance with 1 and 2 processes, wrk
against the same endpoint in the same run, and what each load does to the probes' send lateness.

The endpoint is an EC2 instance launched with boto3 `run_instances` in a `python -m localcloud serve`
process of its own; `--url` takes any loopback URL instead (and the JSON says so). Locust runs as the
suite runs it (`gameday.load`: niced, the keep-alive/fresh-connection user mix, every request recorded);
the probes (HTTP, fresh and keep-alive, 50 Hz each) run in this process during every phase.

Phases: baseline (probes only); locust flat out with 1 and with 2 processes (capacity); locust with 2
processes paced at `--paced-rate` (the operating point: load well past 2,000 requests/s that leaves CPU
to the probes and the target); wrk flat out (2 threads, as many connections as locust users). With
`--idle`, the flat-out locust phases are repeated with locust in SCHED_IDLE. Writes
benchmarks/results/load_capacity.json.

Targets: locust with 2 processes sustains >= 2,000 requests/s (flat-out and paced phases), and the probes'
p99 send lateness stays <= 10 ms during the paced phase. Flat-out phases saturate the 2 shared cores,
so their lateness is reported, not judged.

    python -m benchmarks.load_capacity [--seconds 10] [--users 20] [--paced-rate 2500] [--idle] [--url URL]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import standalone_localcloud, summary_ms, write_result
from gameday.load import LoadConfig, check_target, load_samples, running
from gameday.probes import HttpProbe, ProbeRunner
from gameday.timeline import Timeline

TARGET_RPS_2_PROCESSES = 2000.0
TARGET_LATENESS_P99_MS = 10.0
PROBE_RATE_HZ = 50.0
NICE = LoadConfig().nice  # as the suite runs locust: below the probes
BOOT_TIMEOUT_S = 60.0


@contextmanager
def localcloud_instance() -> Iterator[dict[str, Any]]:
    """A LocalCloud in its own process and one running instance in it; yields its URL and ids."""
    import boto3  # only this endpoint needs it

    with standalone_localcloud() as info:
        ec2 = boto3.client("ec2", endpoint_url=info["endpoint_url"], region_name="us-east-1",
                           aws_access_key_id="localcloud", aws_secret_access_key="localcloud")
        launched = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                     InstanceType="t3.micro")["Instances"][0]
        url = f"http://{launched['PrivateIpAddress']}/"
        booted_s = _wait_answering(url)
        yield {"kind": "localcloud instance", "url": url, "instance_id": launched["InstanceId"],
               "boot_s": round(booted_s, 2), "profile": info.get("profile")}


def _wait_answering(url: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < BOOT_TIMEOUT_S:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {BOOT_TIMEOUT_S:.0f} s")


@contextmanager
def probing(url: str) -> Iterator[Timeline]:
    timeline = Timeline.begin("load-capacity-probes")
    probes = [HttpProbe("http:bench", url, PROBE_RATE_HZ, timeout_s=1.0),
              HttpProbe("http-keepalive:bench", url, PROBE_RATE_HZ, timeout_s=1.0, keepalive=True)]
    with ProbeRunner(timeline, probes, allowed_networks=["127.0.0.0/8"]):
        yield timeline


def probe_summary(timeline: Timeline, start_at: float, end_at: float) -> dict[str, Any]:
    samples = [s for s in timeline.samples if start_at <= s.sent_at < end_at]
    return {"samples": len(samples), "errors": sum(not s.good for s in samples),
            "send_lateness": summary_ms([max(0.0, s.lateness_s) for s in samples]),
            "latency": summary_ms([s.latency_s for s in samples if s.latency_s is not None])}


def baseline_phase(url: str, seconds: float) -> dict[str, Any]:
    with probing(url) as probes:
        start = time.time()
        time.sleep(seconds)
        end = time.time()
    return {"phase": "baseline (probes only)", "probes": probe_summary(probes, start, end)}


def locust_phase(url: str, processes: int, seconds: float, users: int, workdir: Path, *,
                 rate: float | None = None, idle: bool = False) -> dict[str, Any]:
    """Locust as the suite runs it; `rate` None: flat out (capacity), else paced to that total rate."""
    timeline = Timeline.begin(f"load-capacity-{processes}")
    config = LoadConfig(users=users, rate=rate, duration_s=seconds + 60, processes=processes, nice=NICE,
                        idle=idle)
    with running(config, url, workdir / f"locust-{processes}-{rate or 'max'}-{idle}", timeline):
        time.sleep(1.0)  # past the ramp: all users spawned, connections open
        with probing(url) as probes:
            start = time.time()
            time.sleep(seconds)
            end = time.time()
    window = [s for s in load_samples(timeline) if start <= s.sent_at < end]
    return {"phase": f"locust, {processes} process{'es' if processes > 1 else ''}", "processes": processes,
            "users": users, "paced_rate": rate, "nice": NICE, "sched_idle": idle, "seconds": round(end - start, 3),
            "requests": len(window), "requests_per_s": round(len(window) / (end - start), 1),
            "errors": sum(not s.good for s in window),
            "latency": summary_ms([s.latency_s for s in window if s.latency_s is not None]),
            "probes": probe_summary(probes, start, end)}


def wrk_phase(url: str, seconds: float, connections: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"phase": "wrk", "skipped": "wrk is not installed (apt-get install -y wrk; `make setup` does)"}
    check_target(url)
    command = ["nice", "-n", str(NICE), wrk, "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    with probing(url) as probes:
        start = time.time()
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
        end = time.time()
    out = result.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"phase": "wrk", "threads": 2, "connections": connections, "seconds": round(end - start, 3),
            "requests_per_s": float(rps.group(1)) if rps else None,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else "",
            "exit_code": result.returncode, "probes": probe_summary(probes, start, end),
            "output": out.strip().splitlines()[-12:]}


def measure(url: str, seconds: float, users: int, paced_rate: float, idle: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="load-capacity-") as tmp:
        work = Path(tmp)
        phases = {"baseline": baseline_phase(url, seconds),
                  "locust_1": locust_phase(url, 1, seconds, users, work),
                  "locust_2": locust_phase(url, 2, seconds, users, work),
                  "locust_2_paced": locust_phase(url, 2, seconds, users, work, rate=paced_rate)}
        if idle:
            phases["locust_1_idle"] = locust_phase(url, 1, seconds, users, work, idle=True)
            phases["locust_2_idle"] = locust_phase(url, 2, seconds, users, work, idle=True)
        phases["wrk"] = wrk_phase(url, seconds, users)
        return phases


def verdict(phases: dict[str, Any]) -> dict[str, Any]:
    flat_out, paced = phases["locust_2"]["requests_per_s"], phases["locust_2_paced"]["requests_per_s"]
    lateness = phases["locust_2_paced"]["probes"]["send_lateness"]["p99_ms"]
    return {"locust_2_processes_max_rps": flat_out, "locust_2_processes_paced_rps": paced,
            "target_rps": TARGET_RPS_2_PROCESSES,
            "rps_ok": min(flat_out, paced) >= TARGET_RPS_2_PROCESSES,
            "probe_lateness_p99_ms_under_paced_locust_2": lateness,
            "probe_lateness_p99_ms_under_max_locust_2": phases["locust_2"]["probes"]["send_lateness"]["p99_ms"],
            "target_lateness_p99_ms": TARGET_LATENESS_P99_MS,
            "lateness_ok": lateness is not None and lateness <= TARGET_LATENESS_P99_MS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--users", type=int, default=20, help="locust users; wrk connections")
    parser.add_argument("--paced-rate", type=float, default=2500.0, help="requests/s of the paced phase")
    parser.add_argument("--idle", action="store_true", help="also run flat-out locust in SCHED_IDLE")
    parser.add_argument("--url", default=None, help="a loopback URL instead of a localcloud instance")
    args = parser.parse_args(argv)
    if args.url:
        check_target(args.url)
        endpoint: dict[str, Any] = {"kind": "url", "url": args.url,
                                    "note": "given with --url: not the localcloud instance run"}
        phases = measure(args.url, args.seconds, args.users, args.paced_rate, args.idle)
    else:
        with localcloud_instance() as endpoint:
            phases = measure(endpoint["url"], args.seconds, args.users, args.paced_rate, args.idle)
    result = verdict(phases)
    path = write_result("load_capacity", {"endpoint": endpoint, "nice": NICE, "probe_rate_hz": PROBE_RATE_HZ,
                                          "phases": phases, "verdict": result})
    for name, phase in phases.items():
        probes = phase.get("probes", {}).get("send_lateness", {})
        print(f"{name:15s} {phase.get('requests_per_s', '-')!s:>10} req/s   probe lateness "
              f"p50 {probes.get('p50_ms')} ms  p99 {probes.get('p99_ms')} ms  max {probes.get('max_ms')} ms")
    print(f"wrote {path}")
    return 0 if result["rps_ok"] and result["lateness_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
