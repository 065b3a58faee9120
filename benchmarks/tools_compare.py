"""Benchmark: gameday's probes and load next to the tools a person would reach for, in one run, against
the same localcloud endpoints: HttpProbe vs a `curl` loop, DnsProbe vs a `dig` loop (same rates), locust
vs `wrk` (same connections).

Endpoints: one EC2 instance launched with boto3 in a `python -m localcloud serve` process of its own (fast
profile), and one Route 53 record (app.bench.test A, the instance's address) on that localcloud's
authoritative DNS server.

(a)/(b) At each rate (`--rates`, default 20 and 50 Hz) for `--seconds` each: gameday's probe (fresh HTTP
connection per sample, as curl does; one DNS query per sample, as dig does) in this process, then the
tool started once per sample by a pacer thread on the same schedule. Figures: achieved rate, send
lateness and interval jitter p50/p99, latency p50/p99, CPU. A tool's send time is estimated as its exit
minus its own latency (curl's time_total, dig's Query time, which is whole milliseconds): its lateness
includes starting the process, which is what a shell loop pays per sample, and the pacer never skips: a
loop that cannot start processes as fast as its rate falls behind and stays late. Tool CPU is getrusage of
the reaped children; the pacer's own CPU (this process) is reported apart.

(c) Flat out with the same concurrency: wrk with 2 threads and `--users` connections (all keep-alive),
locust as the suite runs it with 2 processes and `--users` users (3 of 4 keep-alive, 1 of 4 a fresh
connection per request, every request recorded to disk). Then paced at `--paced-rate`: locust with its
constant throughput per user, wrk with a Lua delay() per connection (wrk has no rate option; wrk2's
coordinated-omission correction is not in wrk), both closed loops. CPU per 1000 requests: wrk's from
getrusage, locust's from /proc over its process group during the measured window.

Nothing is judged: the figures are the result. Writes benchmarks/results/tools_compare.json.

    python -m benchmarks.tools_compare [--seconds 15] [--rates 20,50] [--users 20] [--paced-rate 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import httpx

from benchmarks._common import load, standalone_localcloud, summary_ms, write_result
from gameday.errors import ConfigError
from gameday.load import LoadConfig, load_samples, running
from gameday.probes import DnsProbe, HttpProbe, ProbeRunner
from gameday.timeline import Timeline

ZONE, QNAME = "bench.test.", "app.bench.test."
NICE = LoadConfig().nice  # wrk runs at the priority the suite gives locust
BOOT_TIMEOUT_S = 60.0
TOOL_TIMEOUT_S = 1.0
# One reaper thread per invocation in flight: an invocation's exit is stamped when its reaper sees it, so a
# reaper must never queue behind another (a busy machine keeps hundreds in flight at 50 Hz).
MAX_IN_FLIGHT = 512
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Endpoints:
    url: str
    dns_server: tuple[str, int]
    facts: dict[str, Any]


def _wait(what: str, check: Callable[[], bool]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < BOOT_TIMEOUT_S:
        try:
            if check():
                return time.monotonic() - started
        except (httpx.HTTPError, OSError, dns.exception.DNSException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready within {BOOT_TIMEOUT_S:.0f} s")


def _answers(server: tuple[str, int]) -> bool:
    reply = dns.query.udp(dns.message.make_query(QNAME, "A"), server[0], port=server[1], timeout=1.0)
    return bool(reply.answer)


@contextmanager
def localcloud_endpoints() -> Iterator[Endpoints]:
    """A LocalCloud in its own process, one running instance and one Route 53 record naming it."""
    import boto3  # only this endpoint needs it

    with standalone_localcloud() as info:
        auth = info["dns"]["authoritative"]
        server = (auth["host"], int(auth["port"]))
        keys = {"endpoint_url": info["endpoint_url"], "region_name": "us-east-1",
                "aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}
        ec2, route53 = boto3.client("ec2", **keys), boto3.client("route53", **keys)
        instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                     InstanceType="t3.micro")["Instances"][0]
        address = instance["PrivateIpAddress"]
        zone = route53.create_hosted_zone(Name=ZONE, CallerReference="tools-compare")["HostedZone"]
        route53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": QNAME, "Type": "A", "TTL": 60,
                                                       "ResourceRecords": [{"Value": address}]}}]})
        url = f"http://{address}/"
        boot_s = _wait(url, lambda: httpx.get(url, timeout=1.0).status_code == 200)
        insync_s = _wait(QNAME, lambda: _answers(server))
        yield Endpoints(url, server, {
            "backend": "localcloud", "profile": info.get("profile"), "url": url,
            "instance_id": instance["InstanceId"], "boot_s": round(boot_s, 2),
            "record": f"{QNAME} A {address}", "dns_server": f"{server[0]}:{server[1]} (authoritative)",
            "record_served_after_s": round(insync_s, 2)})


# --- figures common to probes and tool loops ---

def send_figures(sends: Sequence[float], scheduled: Sequence[float], rate_hz: float, seconds: float,
                 good: int) -> dict[str, Any]:
    """Achieved rate, send lateness and interval jitter from send and schedule times (seconds)."""
    intervals = [b - a for a, b in zip(sends, sends[1:], strict=False)]
    span = sends[-1] - sends[0] if len(sends) > 1 else 0.0
    return {"due": round(seconds * rate_hz), "samples": len(sends), "good": good,
            "achieved_rate_hz": round((len(sends) - 1) / span, 2) if span else None,
            "send_lateness": summary_ms([max(0.0, s - d) for s, d in zip(sends, scheduled, strict=True)]),
            "interval_jitter": summary_ms([abs(i - 1.0 / rate_hz) for i in intervals])}


def cpu_figures(cpu_s: float, samples: int, wall_s: float) -> dict[str, Any]:
    return {"cpu_s": round(cpu_s, 3), "cpu_ms_per_sample": round(cpu_s * 1e3 / samples, 3) if samples else None,
            "cpu_share_of_one_core": round(cpu_s / wall_s, 3) if wall_s else None}


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- gameday's probe ---

def probe_phase(spec: HttpProbe | DnsProbe, seconds: float) -> dict[str, Any]:
    timeline = Timeline.begin("tools-compare")
    cpu0, wall0 = time.process_time(), time.monotonic()
    with ProbeRunner(timeline, [spec], allowed_networks=["127.0.0.0/8"], duration_s=seconds) as runner:
        if not runner.wait_done(seconds + 30.0):
            raise RuntimeError(f"probe {spec.name} did not finish")
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    samples = sorted(timeline.samples_of(spec.name), key=lambda s: s.seq)
    figures = send_figures([s.sent_mono for s in samples], [s.scheduled_mono for s in samples],
                           spec.rate_hz, seconds, sum(s.good for s in samples))
    return {"tool": f"gameday {type(spec).__name__}", "load_after": load(), **figures,
            "latency": summary_ms([s.latency_s for s in samples if s.latency_s is not None]),
            "cpu": {"process": cpu_figures(cpu, len(samples), wall),
                    "note": "this process while only the probe runs (its runner thread and event loop)"}}


# --- a tool started once per sample ---

@dataclass(frozen=True)
class Invocation:
    scheduled: float  # monotonic
    spawned: float
    exited: float
    ok: bool
    latency_s: float | None  # the tool's own figure


Parse = Callable[[int, str], tuple[bool, float | None]]


def _finish(proc: subprocess.Popen[str], scheduled: float, spawned: float, parse: Parse) -> Invocation:
    try:
        out, _ = proc.communicate(timeout=TOOL_TIMEOUT_S + 5.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Invocation(scheduled, spawned, time.monotonic(), False, None)
    exited = time.monotonic()
    ok, latency = parse(proc.returncode, out)
    return Invocation(scheduled, spawned, exited, ok, latency)


def tool_loop(name: str, command: Sequence[str], parse: Parse, rate_hz: float, seconds: float) -> dict[str, Any]:
    """Start `command` once per interval on a fixed schedule (never waiting for the last one to end)."""
    interval, count = 1.0 / rate_hz, round(seconds * rate_hz)
    futures: list[Future[Invocation]] = []
    children0, cpu0 = children_cpu_s(), time.process_time()
    with ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix=f"{name}-reaper") as reapers:
        t0 = time.monotonic() + 0.1
        for seq in range(count):
            scheduled = t0 + seq * interval
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            spawned = time.monotonic()
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            futures.append(reapers.submit(_finish, proc, scheduled, spawned, parse))
        wall = time.monotonic() - t0
    runs = [f.result() for f in futures]
    tool_cpu, pacer_cpu = children_cpu_s() - children0, time.process_time() - cpu0
    timed = [(r, r.latency_s) for r in runs if r.latency_s is not None]
    sends = [r.exited - latency for r, latency in timed]
    figures = send_figures(sends, [r.scheduled for r, _ in timed], rate_hz, seconds, sum(r.ok for r in runs))
    figures["samples"] = len(runs)
    return {"tool": f"{name} loop", "command": " ".join(command), "load_after": load(), **figures,
            "spawn_lateness": summary_ms([max(0.0, r.spawned - r.scheduled) for r in runs]),
            "latency": summary_ms([latency for _, latency in timed]),
            "invocation_wall": summary_ms([r.exited - r.spawned for r in runs]),
            "cpu": {"tool_processes": cpu_figures(tool_cpu, len(runs), wall),
                    "pacer": cpu_figures(pacer_cpu, len(runs), wall),
                    "total": cpu_figures(tool_cpu + pacer_cpu, len(runs), wall)}}


def parse_curl(returncode: int, out: str) -> tuple[bool, float | None]:
    """`-w '%{http_code} %{time_total}'`: good on a 2xx; time_total in seconds."""
    fields = out.split()
    if len(fields) != 2:
        return False, None
    return returncode == 0 and fields[0].startswith("2"), float(fields[1])


def parse_dig(returncode: int, out: str) -> tuple[bool, float | None]:
    """`+noall +answer +stats`: good with an A answer; ';; Query time: N msec' (whole ms)."""
    found = re.search(r"Query time: (\d+) msec", out)
    answered = any("\tA\t" in line or " A " in line for line in out.splitlines() if not line.startswith(";"))
    return returncode == 0 and answered, int(found.group(1)) / 1e3 if found else None


def curl_command(url: str) -> list[str]:
    return ["curl", "-s", "-o", "/dev/null", "--max-time", str(TOOL_TIMEOUT_S),
            "-w", "%{http_code} %{time_total}", url]


def dig_command(server: tuple[str, int]) -> list[str]:
    return ["dig", f"@{server[0]}", "-p", str(server[1]), "+tries=1", f"+time={int(TOOL_TIMEOUT_S)}",
            "+noall", "+answer", "+stats", QNAME, "A"]


def probes_vs_tools(ends: Endpoints, rates: Sequence[float], seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = {"http_vs_curl": {}, "dns_vs_dig": {}}
    for rate in rates:
        key = f"{rate:g}_hz"
        result["http_vs_curl"][key] = {
            "gameday": probe_phase(HttpProbe("http:bench", ends.url, rate, timeout_s=TOOL_TIMEOUT_S), seconds),
            "curl": tool_loop("curl", curl_command(ends.url), parse_curl, rate, seconds)}
        result["dns_vs_dig"][key] = {
            "gameday": probe_phase(DnsProbe("dns:bench", QNAME, server=ends.dns_server, rate_hz=rate,
                                            timeout_s=TOOL_TIMEOUT_S), seconds),
            "dig": tool_loop("dig", dig_command(ends.dns_server), parse_dig, rate, seconds)}
    return result


# --- locust vs wrk ---

def group_cpu_s(pgid: int) -> float:
    """User + system CPU of the live processes in process group `pgid` (from /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ...; utime, stime are 12, 13
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def _ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit], 3)


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, requests/s and the latency percentiles of `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = re.search(r"(\d+) requests in", out)
    percentiles = {f"p{p}_ms": _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$",
                                                                    out, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": int(requests.group(1)) if requests else None,
            "requests_per_s": float(rps.group(1)) if rps else None,
            "latency": percentiles, "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


def wrk_phase(url: str, seconds: float, connections: int, workdir: Path, paced_rate: float | None) -> dict[str, Any]:
    command = ["nice", "-n", str(NICE), "wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    if paced_rate is not None:
        delay_ms = connections / paced_rate * 1e3
        script = workdir / "paced.lua"
        script.write_text(f"function delay()\n  return {delay_ms:.3f}\nend\n")
        command += ["-s", str(script)]
    cpu0 = children_cpu_s()
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    cpu = children_cpu_s() - cpu0
    figures = parse_wrk(result.stdout)
    requests = figures["requests"] or 0
    return {"tool": "wrk", "threads": 2, "connections": connections, "paced_rate": paced_rate,
            "pacing": None if paced_rate is None else f"Lua delay() of {connections / paced_rate * 1e3:.1f} ms "
                                                      "after each response, per connection (closed loop)",
            "seconds": seconds, "exit_code": result.returncode, **figures,
            "cpu_s": round(cpu, 3), "cpu_ms_per_1000_requests": round(cpu * 1e6 / requests, 1) if requests else None}


def locust_phase(url: str, seconds: float, users: int, workdir: Path, paced_rate: float | None) -> dict[str, Any]:
    timeline = Timeline.begin("tools-compare-locust")
    config = LoadConfig(users=users, rate=paced_rate, duration_s=seconds + 60, processes=2, nice=NICE)
    with running(config, url, workdir / f"locust-{paced_rate or 'max'}", timeline) as run:
        time.sleep(1.0)  # past the ramp: all users spawned, connections open
        cpu0, start = group_cpu_s(run.pgid), time.time()
        time.sleep(seconds)
        cpu, end = group_cpu_s(run.pgid) - cpu0, time.time()
    window = [s for s in load_samples(timeline) if start <= s.sent_at < end]
    latency = summary_ms([s.latency_s for s in window if s.latency_s is not None])
    return {"tool": "locust (as the suite runs it)", "processes": 2, "users": users, "paced_rate": paced_rate,
            "pacing": None if paced_rate is None else "constant_throughput per user (closed loop)",
            "seconds": round(end - start, 3), "requests": len(window),
            "requests_per_s": round(len(window) / (end - start), 1), "errors": sum(not s.good for s in window),
            "latency": {"p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"]},
            "cpu_s": round(cpu, 3),
            "cpu_ms_per_1000_requests": round(cpu * 1e6 / len(window), 1) if window else None}


def locust_vs_wrk(url: str, seconds: float, users: int, paced_rate: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tools-compare-") as tmp:
        work = Path(tmp)
        return {"max": {"wrk": wrk_phase(url, seconds, users, work, None),
                        "locust": locust_phase(url, seconds, users, work, None)},
                "paced": {"wrk": wrk_phase(url, seconds, users, work, paced_rate),
                          "locust": locust_phase(url, seconds, users, work, paced_rate)},
                "compared": "same endpoint, same concurrency (wrk connections = locust users, 2 wrk threads = 2 "
                            "locust processes), both niced as the suite nices locust. wrk keeps every connection "
                            "alive and records nothing; locust opens a fresh connection for 1 user in 4 and "
                            "writes every request to disk, as in a game day. Latencies at max throughput are "
                            "closed-loop (they include queueing in the generator); at the paced rate both "
                            "wait after each response, neither corrects for coordinated omission."}


def check_args(args: argparse.Namespace) -> list[float]:
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError as exc:
        raise ConfigError(f"--rates must be comma-separated numbers, got {args.rates!r}") from exc
    if not rates or any(not 0 < r <= 200 for r in rates):
        raise ConfigError(f"--rates must be between 0 and 200 Hz, got {args.rates!r}")
    if not 1 <= args.seconds <= 300 or args.users < 1 or args.paced_rate <= 0:
        raise ConfigError("--seconds must be 1..300, --users at least 1, --paced-rate positive")
    missing = [tool for tool in ("curl", "dig", "wrk") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(f"not installed: {', '.join(missing)} (make debian debian-bench installs them)")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per phase")
    parser.add_argument("--rates", default="20,50", help="probe and tool-loop rates, Hz, comma-separated")
    parser.add_argument("--users", type=int, default=20, help="locust users; wrk connections")
    parser.add_argument("--paced-rate", type=float, default=1000.0, help="requests/s of the paced load phase")
    args = parser.parse_args(argv)
    try:
        rates = check_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_before = load()
    with localcloud_endpoints() as ends:
        probes = probes_vs_tools(ends, rates, args.seconds)
        loads = locust_vs_wrk(ends.url, args.seconds, args.users, args.paced_rate)
    path = write_result("tools_compare", {"backend": "localcloud", "profile": ends.facts["profile"],
                                          "endpoints": ends.facts, "seconds_per_phase": args.seconds,
                                          **probes, "locust_vs_wrk": loads}, load_before=load_before)
    for family in ("http_vs_curl", "dns_vs_dig"):
        for rate, pair in probes[family].items():
            for side in pair.values():
                print(f"{family:12s} {rate:>6s} {side['tool']:24s} {side['achieved_rate_hz']!s:>7} Hz  lateness p99 "
                      f"{side['send_lateness']['p99_ms']} ms  latency p99 {side['latency']['p99_ms']} ms")
    for mode, pair in loads.items():
        if isinstance(pair, dict):
            for side in pair.values():
                print(f"{mode:6s} {side['tool']:30s} {side['requests_per_s']!s:>9} req/s  "
                      f"p99 {side['latency'].get('p99_ms')} ms  {side['cpu_ms_per_1000_requests']} CPU ms/1000")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
