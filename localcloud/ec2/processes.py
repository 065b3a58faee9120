"""What an instance's user data left running on this host, found in /proc, and how to end it.

An instance's processes are its user data's process group plus every process whose environment carries
the instance's marker (`LOCALCLOUD_INSTANCE=<the instance's directory>`, set for the user data and inherited
by everything it starts): a daemon that detached with setsid (`haproxy -D`, `nginx`, `daemonize`) left the
group but still carries the marker. The marker is the directory, not the instance id: two clouds started
with one seed (two test workers, two CI jobs on one runner) give their instances the same ids, and one
cloud must not count or kill the other's processes. Zombies do not count: they hold no sockets and run nothing.

Linux only (/proc). Every function tolerates processes that vanish while it reads.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import sys
from collections.abc import Collection
from pathlib import Path

MARKER = "LOCALCLOUD_INSTANCE"
_PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp{,6}


def instance_pids(instances: Collection[str], process_groups: Collection[int] = ()) -> list[int]:
    """Live (not zombie) processes of these instances (their MARKER values): in one of the groups, or carrying
    one's marker."""
    markers = {f"{MARKER}={instance}".encode() for instance in instances}
    groups = set(process_groups)
    me = os.getpid()
    found = []
    for entry in _pids():
        if entry == me:
            continue
        stat = _stat(entry)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        if stat[1] in groups or (markers and _carries(entry, markers)):
            found.append(entry)
    return found


def kill_instances(instances: Collection[str], process_groups: Collection[int] = ()) -> list[int]:
    """SIGKILL the instances' processes (an instance powering off): the groups, then every process still
    found. Returns the pids found after the groups were signalled.

    Two rounds: a process that forked while the first round read /proc is caught by the second.
    """
    for group in process_groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    signalled: list[int] = []
    for _ in range(2):
        pids = instance_pids(instances, process_groups)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        signalled += pids
    return sorted(set(signalled))


def listening(address: str, port: int) -> bool:
    """Whether a socket listens on exactly `address`:`port` (IPv4, or IPv6 with the IPv4-mapped form).

    Read-only on purpose: probing by binding the port would, for that instant, make a server that is
    starting fail with "Address already in use".
    """
    return bool(_listening_inodes(ipaddress.ip_address(address), port))


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) from /proc/<pid>/stat; the command name may hold spaces and parentheses."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw.rsplit(b")", 1)[-1].split()
    try:
        return fields[0].decode(), int(fields[2])
    except (IndexError, ValueError):
        return None


def _carries(pid: int, markers: set[bytes]) -> bool:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return any(variable in markers for variable in environ.split(b"\0"))


def _proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} prints addresses as 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def listeners(address: str, port: int) -> list[int]:
    """The processes holding a socket that listens on exactly `address`:`port` (as `listening` matches it): a
    server that is there, even while stopped (SIGSTOP keeps its sockets)."""
    inodes = _listening_inodes(ipaddress.ip_address(address), port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found = []
    for pid in _pids():
        try:
            fds = os.listdir(_PROC / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(_PROC / str(pid) / "fd" / fd) in wanted:
                    found.append(pid)
                    break
            except OSError:
                continue
    return found


def _listening_inodes(wanted: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            host, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) != port:
                continue
            local = _proc_address(host)
            if local == wanted or (isinstance(local, ipaddress.IPv6Address) and local.ipv4_mapped == wanted):
                inodes.add(fields[9])
    return inodes


def server_tree(pids: Collection[int]) -> list[int]:
    """`pids` with every process of the same program linked to one of them as parent or child: a master and
    its workers (HAProxy -W, nginx), so killing the server kills all of it, not a worker its master replaces."""
    parents = {pid: stat[2] for pid in _pids() if (stat := _stat_full(pid)) is not None}
    found = set(pids)
    for _ in range(8):  # masters and workers are a level or two apart
        grown = found | {parents[p] for p in found if parents.get(p) in parents and _same_exe(p, parents[p])}
        grown |= {child for child, parent in parents.items() if parent in found and _same_exe(child, parent)}
        if grown == found:
            break
        found = grown
    return sorted(found)


def _stat_full(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, parent) from /proc/<pid>/stat."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw.rsplit(b")", 1)[-1].split()
    try:
        return fields[0].decode(), int(fields[2]), int(fields[1])
    except (IndexError, ValueError):
        return None


def _same_exe(a: int, b: int) -> bool:
    try:
        return os.readlink(_PROC / str(a) / "exe") == os.readlink(_PROC / str(b) / "exe")
    except OSError:
        return False
