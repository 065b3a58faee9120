"""A caching resolver in front of localcloud's DNS: Debian's `unbound` as a child process, so probes can
see what TTLs (positive and negative) do to clients, as through a VPC resolver or an ISP's.

It resolves only our zones (a stub zone per zone, pointing at the authoritative listener's host@port)
and refuses clients every other name (`local-zone: "." refuse`), so it never needs the internet. Lookups
unbound makes on its own (a CNAME or NS target outside our zones) go to a "." stub zone pointing at the
`fallback` server (default: the first zone's server), which REFUSES them at once: a fast SERVFAIL
instead of a timeout. It can only send from loopback (`outgoing-interface`), its root hints name
127.0.0.1 (used only while it has no zone at all), and it fetches no name-server addresses on its own
(target-fetch-policy 0). TTLs are honoured as given: no minimum, no prefetch, no serving of expired answers.

Zones added or removed while it runs are applied with `unbound-control` (stub_add / local_zone and
their removals, then flush_zone), so the rest of the cache survives; the config file is rewritten too.

`VpcResolvers` runs one such resolver per VPC, as AWS runs one at each VPC's base address plus two: the
instances' system resolver (their /etc/resolv.conf), which sees the VPC's private zones.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import dns.exception
import dns.message
import dns.query

from localcloud.errors import LocalCloudError
from localcloud.route53.propagation import ZONE_EVENT

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.events import EventLog
    from localcloud.route53.dns import AuthoritativeDNS

log = logging.getLogger(__name__)

Address = tuple[str, int]
_START_ATTEMPTS = 5


class ResolverError(LocalCloudError):
    """unbound is missing, would not start, or refused a control command."""


class _Exited(ResolverError):
    """unbound's process ended while we waited for it to answer."""


class CachingResolver:
    """unbound on a free loopback port. `start()` waits until it answers; `stop()` is idempotent."""

    def __init__(self, zones: Mapping[str, Address] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, fallback: Address | None = None, unbound: str = "unbound",
                 unbound_control: str = "unbound-control", startup_timeout: float = 10.0) -> None:
        self._host = _loopback(host, "the caching resolver listens on loopback only")
        self._wanted_port = port
        self._port = port
        self._zones = {_zone(name): _check(server) for name, server in (zones or {}).items()}
        self._fallback = None if fallback is None else _check(fallback)
        self._unbound = unbound
        self._control = unbound_control
        self._startup_timeout = startup_timeout
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> Address:
        return self._host, self._port

    @property
    def zones(self) -> dict[str, Address]:
        return dict(self._zones)

    @property
    def fallback(self) -> Address | None:
        """Where unbound's own lookups for names outside our zones go (to be refused)."""
        return self._fallback or next(iter(self._zones.values()), None)

    @property
    def workdir(self) -> Path | None:
        """The temp dir with unbound.conf, unbound.log and the control socket (None when stopped)."""
        return self._dir

    def describe(self) -> dict[str, Any]:
        """JSON-able facts (LocalCloud's /info)."""
        return {"host": self._host, "port": self._port, "running": self.running,
                "pid": self._proc.pid if self._proc is not None else None,
                "zones": {zone: _at(server) for zone, server in sorted(self._zones.items())},
                "fallback": None if self.fallback is None else _at(self.fallback)}

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- lifecycle ---

    def start(self) -> None:
        if self._proc is not None:
            return
        binary = shutil.which(self._unbound)
        if binary is None or shutil.which(self._control) is None:
            raise ResolverError(f"{self._unbound} not found: apt-get install unbound (`make setup` does it)")
        self._dir = Path(tempfile.mkdtemp(prefix="localcloud-unbound-"))
        try:
            for attempt in range(_START_ATTEMPTS):
                self._port = self._wanted_port or _free_port(self._host)
                self._write_config()
                if self._spawn(binary, last=attempt == _START_ATTEMPTS - 1 or self._wanted_port != 0):
                    break
            log.info("unbound caching resolver on %s:%s for %s", self._host, self._port, sorted(self._zones))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> CachingResolver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- zones and cache ---

    def add_zone(self, name: str, server: Address) -> None:
        zone, server = _zone(name), _check(server)
        previous, fallback = self._zones.get(zone), self.fallback
        self._zones[zone] = server
        if self._proc is None or previous == server:
            return
        self._write_config()
        if previous is not None:
            self.control("stub_remove", zone)
        self.control("stub_add", zone, _at(server))
        self.control("local_zone", zone, "transparent")
        self._apply_fallback(fallback)
        self.flush(zone)

    def remove_zone(self, name: str) -> None:
        zone, fallback = _zone(name), self.fallback
        if self._zones.pop(zone, None) is None or self._proc is None:
            return
        self._write_config()
        self.control("stub_remove", zone)
        self.control("local_zone_remove", zone)
        self._apply_fallback(fallback)
        self.flush(zone)

    def _apply_fallback(self, before: Address | None) -> None:
        # Root hints and a "." stub do not mix at run time: reload (this drops the cache, but the
        # fallback only changes when the first zone comes or the fallback's zone goes).
        if self.fallback != before:
            self.control("reload")
            self._wait_until_answering(self._startup_timeout)

    def flush(self, name: str = ".") -> None:
        """Forget everything cached at or below `name` (positive and negative answers)."""
        self.control("flush_zone", _zone(name))
        self.control("flush_requestlist")

    def control(self, *command: str) -> str:
        if self._dir is None:
            raise ResolverError("unbound is not running")
        result = subprocess.run([self._control, "-c", str(self._dir / "unbound.conf"), *command],
                                capture_output=True, text=True, timeout=10, check=False)
        if result.returncode != 0 or result.stdout.startswith("error"):
            raise ResolverError(f"unbound-control {' '.join(command)}: "
                                f"{(result.stdout + result.stderr).strip() or result.returncode}")
        return result.stdout

    # --- internals ---

    def _spawn(self, binary: str, *, last: bool) -> bool:
        """Start unbound and wait until it answers; False if it lost a port race and may be retried."""
        assert self._dir is not None
        if self._log is not None:
            self._log.close()
        self._log = open(self._dir / "stderr.log", "ab")  # closed in stop()
        self._proc = subprocess.Popen([binary, "-d", "-c", str(self._dir / "unbound.conf")],
                                      stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_answering(self._startup_timeout)
        except _Exited as exited:
            self._proc = None
            if not last and "bind" in str(exited).lower():
                return False
            raise ResolverError(f"unbound {exited}") from None
        return True

    def _wait_until_answering(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise _Exited(f"exited with code {code}: {self._output()[-400:] or 'no output'}")
            if self._answers():
                return
            time.sleep(0.05)
        raise ResolverError(f"unbound did not answer on {self._host}:{self._port} "
                            f"within {timeout:.0f} s: {self._output()[-400:]}")

    def _answers(self) -> bool:
        try:
            dns.query.udp(dns.message.make_query("localhost.", "A"), self._host, timeout=0.2, port=self._port)
        except (dns.exception.DNSException, OSError):
            return False
        return True

    def _output(self) -> str:
        assert self._dir is not None
        text = ""
        for name in ("stderr.log", "unbound.log"):
            path = self._dir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return " | ".join(line.strip() for line in text.splitlines() if line.strip())

    def _write_config(self) -> None:
        assert self._dir is not None
        (self._dir / "root.hints").write_text(". 3600000 NS root.localcloud.\nroot.localcloud. 3600000 A 127.0.0.1\n")
        (self._dir / "unbound.conf").write_text(
            render_config(self._dir, self._host, self._port, self._zones, self.fallback))


class VpcResolvers:
    """Each VPC's resolver (AWS's VPC+2): a `CachingResolver` on its own loopback address, port 53 (resolv.conf
    has no port), whose stub zones are the zones visible in the VPC, all pointing at the authoritative server's
    listener for that VPC (which answers the public zones and the VPC's private ones, a private zone shadowing a
    public one of the same name). One unbound per VPC because unbound's views cannot hold stub zones, and split
    horizon needs a different upstream per VPC.

    Started on first use (`address_for`, when an instance boots in the VPC), since most VPCs of a game day never
    run user data. A follower thread reads the event log and applies every zone creation and deletion to the
    running resolvers. Thread-safe; `address_for` blocks while unbound starts (call it off the data-plane loop).
    """

    def __init__(self, dns: AuthoritativeDNS, allocate: Callable[[str], str], events: EventLog, *,
                 port: int = 53, poll_s: float = 0.1) -> None:
        self._dns = dns
        self._allocate = allocate  # a loopback address for a purpose (the cloud's address pool)
        self._events = events
        self._port = port
        self._poll_s = poll_s
        self._resolvers: dict[str, CachingResolver] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None

    @classmethod
    def for_cloud(cls, cloud: LocalCloud) -> VpcResolvers:
        return cls(cloud.service("authoritative"), cloud.pool.allocate_service, cloud.events)  # type: ignore[arg-type]

    def start(self) -> None:
        self._stopping.clear()
        self._follower = threading.Thread(target=self._follow, args=(len(self._events),),
                                          name="localcloud-vpc-resolvers", daemon=True)
        self._follower.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=15)
            self._follower = None
        with self._lock:
            resolvers, self._resolvers = list(self._resolvers.values()), {}
        for resolver in resolvers:
            resolver.stop()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {vpc: resolver.describe() for vpc, resolver in sorted(self._resolvers.items())}

    def address_for(self, vpc_id: str) -> Address:
        """The VPC's resolver (host, port), started now if it is not running yet."""
        with self._lock:
            if self._stopping.is_set():
                raise ResolverError("the VPC resolvers are stopped")
            resolver = self._resolvers.get(vpc_id)
            if resolver is None:
                upstream = self._upstream(vpc_id)
                resolver = CachingResolver(dict.fromkeys(self._visible(vpc_id), upstream),
                                           host=self._allocate(f"resolver:{vpc_id}"), port=self._port,
                                           fallback=upstream)
                resolver.start()
                self._resolvers[vpc_id] = resolver
                log.info("VPC resolver of %s on %s:%s", vpc_id, *resolver.address)
            return resolver.address

    def _upstream(self, vpc_id: str) -> Address:
        """The authoritative server's listener for clients in the VPC, opened now if nothing opened it yet."""
        try:
            return self._dns.vpc_address(vpc_id)
        except KeyError:
            return self._dns.add_vpc_listener(vpc_id, host=self._allocate(f"dns:{vpc_id}"), port=self._port)

    def _visible(self, vpc_id: str) -> list[str]:
        return sorted({zone.name for zone in self._dns.propagation.view() if zone.visible_to(vpc_id)})

    def _follow(self, cursor: int) -> None:
        """Sync every running resolver after each zone event, until stopped (bounded by the stop flag)."""
        while not self._stopping.wait(self._poll_s):
            events, cursor = self._events.since(cursor)
            if any(event.kind == ZONE_EVENT for event in events):
                self._sync()

    def _sync(self) -> None:
        with self._lock:
            for vpc_id, resolver in self._resolvers.items():
                wanted, upstream = set(map(_zone, self._visible(vpc_id))), self._upstream(vpc_id)
                try:
                    for zone in sorted(wanted - set(resolver.zones)):
                        resolver.add_zone(zone, upstream)
                    for zone in sorted(set(resolver.zones) - wanted):
                        resolver.remove_zone(zone)
                except Exception:  # one VPC's failure must not stop the others following their zones
                    log.exception("the VPC resolver of %s could not follow its zones", vpc_id)


def render_config(directory: Path, host: str, port: int, zones: Mapping[str, Address],
                  fallback: Address | None) -> str:
    ip6 = any(":" in h for h in [host, *(server[0] for server in zones.values())])
    lines = [
        "server:",
        f'    directory: "{directory}"',
        '    chroot: ""',
        '    username: ""',
        f'    pidfile: "{directory / "unbound.pid"}"',
        f'    logfile: "{directory / "unbound.log"}"',
        "    use-syslog: no",
        "    do-daemonize: no",
        "    verbosity: 1",
        "    num-threads: 1",
        f"    interface: {host}",
        f"    port: {port}",
        "    interface-automatic: no",
        "    so-reuseport: no",
        "    do-ip4: yes",
        f"    do-ip6: {'yes' if ip6 else 'no'}",
        "    do-udp: yes",
        "    do-tcp: yes",
        "    outgoing-interface: 127.0.0.1",
        *(["    outgoing-interface: ::1"] if ip6 else []),
        "    outgoing-range: 64",
        "    num-queries-per-thread: 32",
        "    access-control: 0.0.0.0/0 refuse",
        "    access-control: ::/0 refuse",
        "    access-control: 127.0.0.0/8 allow",
        "    access-control: ::1/128 allow",
        "    access-control: ::ffff:127.0.0.0/104 allow",
        "    do-not-query-localhost: no",
        *([f'    root-hints: "{directory / "root.hints"}"'] if fallback is None else []),
        '    module-config: "iterator"',
        '    target-fetch-policy: "0 0 0 0 0"',
        "    qname-minimisation: no",
        "    minimal-responses: yes",
        "    cache-min-ttl: 0",
        "    cache-max-ttl: 604800",  # above Route 53's 172800 s NS TTL: unbound clamps nothing
        "    cache-max-negative-ttl: 86400",
        "    serve-expired: no",
        "    prefetch: no",
        "    prefetch-key: no",
        "    infra-host-ttl: 10",
        "    infra-keep-probing: yes",
        "    msg-cache-size: 4m",
        "    rrset-cache-size: 8m",
        '    local-zone: "." refuse',
        *(f'    local-zone: "{zone}" transparent' for zone in sorted(zones)),
        "remote-control:",
        "    control-enable: yes",
        f'    control-interface: "{directory / "control.sock"}"',
        "    control-use-cert: no",
    ]
    stubs = dict(sorted(zones.items()))
    if fallback is not None and "." not in stubs:
        stubs["."] = fallback
    for zone, server in stubs.items():
        lines += ["stub-zone:", f'    name: "{zone}"', f"    stub-addr: {_at(server)}", "    stub-prime: no"]
    return "\n".join(lines) + "\n"


def _zone(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _loopback(host: str, refusal: str) -> str:
    """A loopback address, IPv4-mapped ones as plain IPv4 (what a dual-stack client reaches)."""
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if not address.is_loopback:
        raise ValueError(f"{refusal}, not {host}")
    return str(address)


def _check(server: Address) -> Address:
    return _loopback(server[0], "the caching resolver only asks loopback servers"), int(server[1])


def _at(server: Address) -> str:
    return f"{server[0]}@{server[1]}"


def _free_port(host: str) -> int:
    """A port free for both UDP and TCP on `host` right now (unbound binds both)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(20):
        with socket.socket(family, socket.SOCK_STREAM) as tcp, socket.socket(family, socket.SOCK_DGRAM) as udp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind((host, port))
            except OSError:
                continue
            return port
    raise ResolverError(f"no port free for both UDP and TCP on {host}")
