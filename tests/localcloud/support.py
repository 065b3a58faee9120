"""Helpers for localcloud's own tests: a tiny time profile, and what a client sees at an address."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

from localcloud.profiles import Profile, load

# Seconds; small enough for tests, large enough that the order of events is unambiguous.
TINY_DELAYS = {
    "ec2.pending_to_running": 0.3,
    "ec2.boot": 0.3,
    "eip.associate_to_traffic": 0.8,
    "asg.detect_not_running": 0.5,
    "ec2.run_instances_api": 0.3,
}
BLACK_HOLE_WAIT = 0.4  # how long a client waits for a handshake before calling the address a black hole


def tiny_profile(folder: Path, **overrides: float) -> Profile:
    """The realistic profile scaled to 1 %, with TINY_DELAYS (and `overrides`, dots as `__`) on top."""
    delays = {**TINY_DELAYS, **{key.replace("__", "."): value for key, value in overrides.items()}}
    lines = ['name = "tiny"', 'description = "localcloud tests"', 'base = "realistic"', "scale = 0.01",
             "jitter = false"]
    for key, seconds in delays.items():
        lines += [f'[override."{key}"]', f"seconds = {seconds}", 'reason = "test"']
    path = folder / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return load(str(path))


def connect_outcome(address: str, port: int = 80, timeout: float = BLACK_HOLE_WAIT) -> str:
    """"connected", "hangs" (SYN dropped: a black hole) or "refused"."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "connected"
    except TimeoutError:
        return "hangs"
    except ConnectionRefusedError:
        return "refused"


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for its parent (or init) to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def http_get(host: str, path: str = "/", *, port: int = 80, timeout: float = 5.0,
             headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
