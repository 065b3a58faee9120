"""Shared by the probe benchmarks: scripted loopback targets in a process of their own (pinned to
another core, so they never share the probes' GIL or CPU), core pinning, and the result file."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gameday.analysis import percentiles
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, ScriptedHttpServer

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
PROBE_CPU, TARGET_CPU = 0, 1
COMMAND_TIMEOUT_S = 10.0


def pin(cpu: int) -> int | None:
    """Pin this process to `cpu` when the machine has it; returns the core used (None: not pinned)."""
    if not hasattr(os, "sched_setaffinity") or cpu not in os.sched_getaffinity(0):
        return None
    os.sched_setaffinity(0, {cpu})
    return cpu


def _serve(conn: multiprocessing.connection.Connection, dns_answers: Sequence[str]) -> None:
    """Target process: an HTTP and a DNS server; obeys ("http", steps) / ("dns", steps) / ("stop",)."""
    pin(TARGET_CPU)
    with ScriptedHttpServer("ok", identity="i-bench") as web, \
            ScriptedDnsServer(DnsMode(answers=tuple(dns_answers), ttl=1)) as dns:
        conn.send((web.port, dns.port))
        for _ in range(100_000):
            if not conn.poll(3600):
                break
            command, *args = conn.recv()
            if command == "stop":
                break
            for at, mode in args[0]:
                (web if command == "http" else dns).switch(mode, at)
            conn.send("ok")
    conn.close()


class Targets:
    """Handle on the target process."""

    def __init__(self, conn: multiprocessing.connection.Connection, http_port: int, dns_port: int) -> None:
        self._conn = conn
        self.http_url = f"http://127.0.0.1:{http_port}/"
        self.dns_server = ("127.0.0.1", dns_port)

    def script_http(self, steps: Sequence[tuple[float, str]]) -> None:
        self._command("http", list(steps))

    def script_dns(self, steps: Sequence[tuple[float, DnsMode]]) -> None:
        self._command("dns", list(steps))

    def _command(self, *message: Any) -> None:
        self._conn.send(message)
        if not self._conn.poll(COMMAND_TIMEOUT_S) or self._conn.recv() != "ok":
            raise RuntimeError("target process did not acknowledge")


@contextmanager
def targets(dns_answers: Sequence[str] = ("127.0.0.1",)) -> Iterator[Targets]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, tuple(dns_answers)), name="bench-targets")
    process.start()
    try:
        if not parent.poll(COMMAND_TIMEOUT_S):
            raise RuntimeError("target process did not start")
        http_port, dns_port = parent.recv()
        yield Targets(parent, http_port, dns_port)
    finally:
        try:
            parent.send(("stop",))
        except OSError:
            pass
        process.join(10.0)
        if process.is_alive():
            process.terminate()
            process.join(5.0)
        parent.close()


def summary_ms(values: Sequence[float]) -> dict[str, Any]:
    """Distribution of seconds, reported in ms (p99 is nearest-rank: with 20 values, the maximum)."""
    p = percentiles(values)

    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1e3, 3)

    mean = sum(values) / len(values) if values else None
    return {"n": p.count, "mean_ms": ms(mean), "p50_ms": ms(p.p50), "p95_ms": ms(p.p95), "p99_ms": ms(p.p99),
            "max_ms": ms(p.max), "min_ms": ms(min(values) if values else None)}


def load() -> dict[str, Any]:
    """How busy the machine is: load averages and the share of time something waited for a CPU."""
    snapshot: dict[str, Any] = {"loadavg": [round(v, 2) for v in os.getloadavg()]}
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        snapshot["cpu_pressure_avg10_pct"] = float(some[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return snapshot


def machine(load_before: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_before": load_before, "load_after": load(),
            "note": "shared 2-core machine; other work may run at the same time: treat as indicative"}


def write_result(name: str, data: dict[str, Any], *, load_before: dict[str, Any] | None = None) -> Path:
    """Write benchmarks/results/<name>.json atomically, with what the machine was doing."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    payload = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(load_before), **data}
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)
    return path


@contextmanager
def standalone_localcloud() -> Iterator[dict[str, Any]]:
    """`python -m localcloud serve` in its own process group; yields its ready line (endpoint_url, dns, profile).
    Stopped at the end by closing its stdin (killed if it has not stopped within 30 s)."""
    with subprocess.Popen([sys.executable, "-m", "localcloud", "serve"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, cwd=REPO, start_new_session=True) as cloud:
        try:
            assert cloud.stdout is not None
            info = json.loads(cloud.stdout.readline() or "{}")
            if not info.get("ready"):
                raise RuntimeError("localcloud did not start")
            yield info
        finally:
            if cloud.stdin is not None:
                cloud.stdin.close()  # localcloud stops at end of stdin
            try:
                cloud.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cloud.kill()
