"""What every probe kind shares: stamping a sample, the network guard, resolving and connecting,
and turning a socket-level exception into an `Outcome` (in one place, so kinds agree)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gameday.clock import Clock
from gameday.errors import ConfigError, ProbeError
from gameday.probes.specs import ProbeSpec, format_hostport, is_ip_literal
from gameday.timeline import Outcome, Sample

_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}


class Driver(Protocol):
    """One probe's sending side, living on the runner's event loop."""

    async def sample(self, seq: int, scheduled_mono: float) -> Sample: ...

    async def aclose(self) -> None: ...


class OutsideAllowedNetworks(ProbeError):
    """A target resolves outside the runner's allowed networks: refused before anything is sent."""


class NetworkGuard:
    """Allows only addresses inside the given networks (`None`: everything)."""

    def __init__(self, allowed: Sequence[str] | None) -> None:
        try:
            self._networks = None if allowed is None else [ipaddress.ip_network(n, strict=False)
                                                           for n in allowed]
        except ValueError as exc:
            raise ConfigError(f"bad allowed network: {exc}") from exc

    @property
    def active(self) -> bool:
        return self._networks is not None

    def allows(self, ip: str) -> bool:
        if self._networks is None:
            return True
        address = ipaddress.ip_address(ip.split("%", 1)[0])
        return any(address in network for network in self._networks)

    def __repr__(self) -> str:
        return f"NetworkGuard({[str(n) for n in self._networks or []]})"


@dataclass(frozen=True)
class ProbeContext:
    """Everything a driver needs besides its spec."""

    clock: Clock
    origin_mono: float  # the timeline's origin on `clock.monotonic()`
    guard: NetworkGuard


class Attempt:
    """One sample in the making: stamped at the send, turned into a `Sample` when it ends."""

    __slots__ = ("_clock", "_spec", "seq", "scheduled_mono", "sent_mono", "sent_at", "started")

    def __init__(self, spec: ProbeSpec, ctx: ProbeContext, seq: int, scheduled_mono: float) -> None:
        self._clock = ctx.clock
        self._spec = spec
        self.seq = seq
        self.scheduled_mono = scheduled_mono
        self.started = ctx.clock.monotonic()
        self.sent_mono = self.started - ctx.origin_mono
        self.sent_at = round(ctx.clock.now(), 6)

    def elapsed(self) -> float:
        return self._clock.monotonic() - self.started

    def finish(self, outcome: Outcome, *, answered: bool = True, **fields: Any) -> Sample:
        """The sample; `answered=False` (a timeout, a blocked send) leaves the latency unknown."""
        spec = self._spec
        latency = round(self.elapsed(), 6) if answered else None
        return Sample(probe=spec.name, kind=spec.kind, target=spec.target, seq=self.seq,
                      scheduled_mono=self.scheduled_mono, sent_mono=self.sent_mono,
                      sent_at=self.sent_at, outcome=outcome, latency_s=latency, **fields)


class Failure(Exception):
    """A classified failure of one sample, raised inside a driver and recorded at its edge."""

    def __init__(self, outcome: Outcome, detail: str, *, answered: bool = True, peer: str | None = None):
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.answered = answered
        self.peer = peer


_GAI_OUTCOMES = {socket.EAI_NONAME: Outcome.DNS_NXDOMAIN, socket.EAI_AGAIN: Outcome.DNS_SERVFAIL}
if hasattr(socket, "EAI_NODATA"):  # glibc only
    _GAI_OUTCOMES[socket.EAI_NODATA] = Outcome.DNS_NODATA


def classify(exc: BaseException, *, connecting: bool) -> Failure:
    """The outcome a client would report for `exc`; `connecting` tells a black hole from a slow answer."""
    if isinstance(exc, Failure):
        return exc
    name = type(exc).__name__
    if isinstance(exc, TimeoutError):
        if connecting:
            return Failure(Outcome.CONNECT_TIMEOUT, "no answer to the TCP handshake", answered=False)
        return Failure(Outcome.TIMEOUT, "no complete answer in time", answered=False)
    if isinstance(exc, ConnectionRefusedError):
        return Failure(Outcome.REFUSED, "connection refused")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Failure(Outcome.RESET, f"connection reset ({name})")
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        partial = len(exc.partial) if isinstance(exc, asyncio.IncompleteReadError) else 0
        return Failure(Outcome.CLOSED, f"peer closed after {partial} bytes of the answer")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return Failure(Outcome.TLS_ERROR, f"{name}: {exc}")
    if isinstance(exc, socket.gaierror):
        return Failure(_GAI_OUTCOMES.get(exc.errno or 0, Outcome.ERROR), f"name resolution: {exc}")
    if isinstance(exc, asyncio.LimitOverrunError):
        return Failure(Outcome.BAD_RESPONSE, "response head too large")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return Failure(Outcome.UNREACHABLE, f"{name}: {exc.strerror}")
    return Failure(Outcome.ERROR, f"{name}: {exc}")


async def resolve(host: str, port: int, guard: NetworkGuard) -> list[str]:
    """Addresses to try for `host`, in resolver order, minus what the guard refuses."""
    if is_ip_literal(host):
        addresses = [host]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    allowed = [a for a in addresses if guard.allows(a)]
    if not allowed:
        raise Failure(Outcome.BLOCKED, f"network guard refused {host} -> {', '.join(addresses)}",
                      answered=False)
    return allowed


async def resolve_at(host: str, server: tuple[str, int], guard: NetworkGuard) -> list[str]:
    """A records for `host` from one DNS server (never the system resolver), minus what the guard refuses."""
    import dns.asyncquery
    import dns.message
    import dns.rcode
    import dns.rdatatype

    if is_ip_literal(host):
        return await resolve(host, 0, guard)
    if not guard.allows(server[0]):
        raise Failure(Outcome.BLOCKED, f"network guard refused DNS server {server[0]}", answered=False)
    reply = await dns.asyncquery.udp(dns.message.make_query(host, dns.rdatatype.A), server[0], port=server[1])
    if reply.rcode() == dns.rcode.NXDOMAIN:
        raise Failure(Outcome.DNS_NXDOMAIN, f"{host}: NXDOMAIN from {server[0]}")
    if reply.rcode() != dns.rcode.NOERROR:
        raise Failure(Outcome.DNS_SERVFAIL, f"{host}: {dns.rcode.to_text(reply.rcode())} from {server[0]}")
    addresses = [str(item.address) for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for item in rrset]
    if not addresses:
        raise Failure(Outcome.DNS_NODATA, f"{host}: no A record at {server[0]}")
    return await _allowed(host, addresses, guard)


async def _allowed(host: str, addresses: list[str], guard: NetworkGuard) -> list[str]:
    allowed = [a for a in addresses if guard.allows(a)]
    if not allowed:
        raise Failure(Outcome.BLOCKED, f"network guard refused {host} -> {', '.join(addresses)}", answered=False)
    return allowed


async def connect(addresses: Sequence[str], port: int,
                  deadline: float, clock: Clock) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """Connect to the first address that answers, as clients do; a refusal moves on at once.

    Raises `Failure` naming the last address tried."""
    failure: Failure | None = None
    for address in addresses:
        peer = format_hostport(address, port)
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                reader, writer = await asyncio.open_connection(address, port)
            return reader, writer, peer
        except Exception as exc:  # every failure is a measurement here
            failure = classify(exc, connecting=True)
            failure.peer = peer
            if failure.outcome is Outcome.CONNECT_TIMEOUT:
                break
    if failure is None:
        failure = Failure(Outcome.CONNECT_TIMEOUT, "no time left to connect", answered=False)
    if len(addresses) > 1:
        failure.detail += f" ({len(addresses)} addresses)"
    raise failure


def peer_of(writer: asyncio.StreamWriter, fallback: str) -> str:
    peername = writer.get_extra_info("peername")
    if not peername:
        return fallback
    return format_hostport(str(peername[0]), int(peername[1]))


def close_quietly(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        try:
            if writer.get_extra_info("sslcontext") is not None:
                # A TLS close waits for the peer's close_notify: a frozen or black-holed peer never sends
                # it, and the socket would outlive the probe. A probe has nothing to flush: abort.
                writer.transport.abort()
                return
            writer.close()
        except (OSError, RuntimeError):  # already closed, or the loop is shutting down
            pass
