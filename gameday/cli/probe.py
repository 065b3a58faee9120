"""`gameday probe`: probe any reachable endpoints on a fixed schedule and write the timeline JSON
(schema: docs/timeline.md). Every target flag is repeatable; all probes share one rate."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gameday.errors import ConfigError
from gameday.probes import (
    MAX_RATE_HZ,
    DnsProbe,
    HealthProbe,
    HttpProbe,
    OutsideAllowedNetworks,
    ProbeRunner,
    ProbeStats,
    TcpProbe,
)
from gameday.probes.specs import AnyProbe, format_hostport, is_ip_literal, parse_http_url
from gameday.timeline import Timeline

PROGRESS_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_argument_group("targets (each flag repeatable, at least one target)")
    targets.add_argument("--http", action="append", default=[], metavar="URL",
                         help="GET with a fresh connection per sample")
    targets.add_argument("--http-keepalive", action="append", default=[], metavar="URL",
                         help="GET over kept-alive connections (pins the address first connected to)")
    targets.add_argument("--health", action="append", default=[], metavar="URL",
                         help="HAProxy-style health endpoint: 200 up, 503 backend down, refused proxy down")
    targets.add_argument("--dns", action="append", default=[], metavar="NAME[/TYPE]@HOST[:PORT]",
                         help="query one DNS server directly (UDP, TCP on truncation); TYPE defaults to A")
    targets.add_argument("--tcp", action="append", default=[], metavar="HOST:PORT", help="TCP connect")
    parser.add_argument("--rate", type=float, default=20.0, metavar="HZ",
                        help=f"samples per second per probe, up to {MAX_RATE_HZ:g} (default 20)")
    parser.add_argument("--duration", type=float, default=10.0, metavar="S", help="seconds (default 10)")
    parser.add_argument("--timeout", type=float, default=1.0, metavar="S", help="per sample (default 1)")
    parser.add_argument("--identity-header", default="x-served-by", metavar="NAME",
                        help="response header naming the serving instance (default X-Served-By)")
    parser.add_argument("--allow", action="append", metavar="CIDR",
                        help="refuse any target outside these networks (repeatable)")
    parser.add_argument("--run-id", default=None, help="run id written to the timeline")
    parser.add_argument("--out", required=True, metavar="FILE.json", help="where to write the timeline")


def main(args: argparse.Namespace) -> int:
    if not args.rate > 0:
        raise ConfigError(f"--rate must be > 0, got {args.rate:g}")
    if not 0 < args.duration <= 7 * 24 * 3600:
        raise ConfigError(f"--duration must be > 0 s, got {args.duration:g}")
    probes = build_probes(args)
    out = writable_output(args.out)
    run_id = args.run_id or time.strftime("probe-%Y%m%dT%H%M%S")
    timeline = Timeline.begin(run_id, labels={"tool": "gameday probe"})
    interrupted = False
    started = time.monotonic()
    live = sys.stderr.isatty()
    runner = ProbeRunner(timeline, probes, allowed_networks=args.allow, duration_s=args.duration)
    try:
        runner.start()
    except OutsideAllowedNetworks as exc:  # the user's --allow and targets disagree: bad input
        raise ConfigError(str(exc)) from exc
    try:
        for _ in range(int((args.duration + args.timeout) / PROGRESS_S) + 20):
            if runner.wait_done(PROGRESS_S):
                break
            if live:
                _show(progress_line(runner.stats(), time.monotonic() - started, args.duration))
    except KeyboardInterrupt:  # stop, and still write what was sampled
        interrupted = True
    finally:
        runner.stop()
    stats = runner.stats()
    write_atomically(timeline, out)
    if live:
        _show("")
    print(progress_line(stats, time.monotonic() - started, args.duration) + f" -> {out}")
    return 130 if interrupted else 0


def build_probes(args: argparse.Namespace) -> list[AnyProbe]:
    rate, timeout, header = args.rate, args.timeout, args.identity_header
    probes: list[AnyProbe] = []
    names: set[str] = set()

    def name(label: str) -> str:
        unique, n = label, 1
        while unique in names:
            n += 1
            unique = f"{label}#{n}"
        names.add(unique)
        return unique

    for url in args.http:
        probes.append(HttpProbe(name(f"http:{_short(url)}"), url, rate, timeout, identity_header=header))
    for url in args.http_keepalive:
        probes.append(HttpProbe(name(f"http-keepalive:{_short(url)}"), url, rate, timeout, keepalive=True,
                                identity_header=header))
    for url in args.health:
        probes.append(HealthProbe(name(f"health:{_short(url)}"), url, rate, timeout, identity_header=header))
    for spec in args.dns:
        qname, rdtype, server = parse_dns_target(spec)
        probes.append(DnsProbe(name(f"dns:{qname}/{rdtype}@{format_hostport(*server)}"), qname, rdtype,
                               server=server, rate_hz=rate, timeout_s=timeout))
    for spec in args.tcp:
        host, port = parse_hostport(spec, default_port=None)
        probes.append(TcpProbe(name(f"tcp:{format_hostport(host, port)}"), host, port, rate, timeout))
    if not probes:
        raise ConfigError("no targets: give at least one of --http, --http-keepalive, --health, --dns, --tcp")
    return probes


def parse_dns_target(text: str) -> tuple[str, str, tuple[str, int]]:
    """NAME[/TYPE]@HOST[:PORT] -> (name, TYPE, (host, port))."""
    query, at, server = text.rpartition("@")
    if not at or not query or not server:
        raise ConfigError(f"--dns {text!r}: expected NAME[/TYPE]@HOST[:PORT]")
    qname, _, rdtype = query.partition("/")
    host, port = parse_hostport(server, default_port=53)
    if not is_ip_literal(host):
        raise ConfigError(f"--dns {text!r}: the server must be an IP address, got {host!r}")
    return qname, (rdtype or "A").upper(), (host, port)


def parse_hostport(text: str, default_port: int | None) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT, or (with a default port) a bare HOST or V6 address."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ("" if not rest else None)
        if not bracket or port_text is None:
            raise ConfigError(f"bad address {text!r}: expected [V6]:PORT")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ConfigError(f"bad address {text!r}: expected HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not host:
        raise ConfigError(f"bad address {text!r}: expected HOST:PORT with a port 1-65535")
    return host, int(port_text)


def writable_output(path_text: str) -> Path:
    """Fail before probing, not after: the directory exists and a file can be created in it."""
    path = Path(path_text)
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {path}: directory {parent} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"--out {path}: not writable")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write in {parent}: {exc.strerror}") from exc
    return path


def write_atomically(timeline: Timeline, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        timeline.write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def progress_line(stats: dict[str, ProbeStats], elapsed_s: float, duration_s: float) -> str:
    parts = [f"{min(elapsed_s, duration_s):5.1f}/{duration_s:g}s"]
    for s in stats.values():
        last = s.last_outcome.value if s.last_outcome else "-"
        parts.append(f"{s.probe} {s.good}/{s.completed} ok, last {last}, late p99 {s.lateness_p99_s * 1e3:.1f}ms")
    return " | ".join(parts)


def _show(line: str) -> None:
    """Rewrite the one live line on the terminal (an empty line clears it)."""
    width = shutil.get_terminal_size((120, 20)).columns - 1
    sys.stderr.write("\r" + line[:width].ljust(width) + ("\r" if not line else ""))
    sys.stderr.flush()


def _short(url: str) -> str:
    target = parse_http_url(url)
    where = format_hostport(target.host, target.port)
    return where if target.path == "/" else where + target.path

