"""One Route 53 health-check probe: HTTP(S) must connect within 4 s and answer 2xx/3xx within 2 s more
(HTTPS without certificate validation; *_STR_MATCH: the string within the first 5,120 bytes); TCP must
connect within 10 s (docs/aws-timings.md §2.8, limits scaled by the profile). Loopback addresses only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localcloud.profiles import Profile

if TYPE_CHECKING:
    from localcloud.route53.health import CheckConfig

STRING_MATCH_BYTES = 5120

# Name -> loopback addresses (a checker resolves a domain-name check at every interval).
Resolve = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class ProbeLimits:
    connect: float = 4.0
    response: float = 2.0
    tcp_connect: float = 10.0

    @classmethod
    def for_profile(cls, profile: Profile) -> ProbeLimits:
        return cls(profile.delay("route53.health_check.connect_timeout").mean,
                   profile.delay("route53.health_check.response_timeout").mean,
                   profile.delay("route53.health_check.tcp_connect_timeout").mean)


@dataclass(frozen=True)
class Observation:
    ok: bool
    reason: str  # Route 53's StatusReport wording: "Success: HTTP Status Code 200, OK", "Failure: …"
    address: str | None
    at: float  # epoch seconds
    duration: float  # seconds the probe took


async def probe(config: CheckConfig, limits: ProbeLimits, resolve: Resolve | None,
                tls: ssl.SSLContext | None = None) -> Observation:
    """One probe; `tls`: the checkers' shared context for HTTPS checks (one is made when not given)."""
    started, wall = time.monotonic(), time.time()
    address: str | None = None
    try:
        address = await _target(config, resolve)
        ok, reason = await _probe_address(config, address, limits, tls)
    except _Failure as failure:
        ok, reason = False, f"Failure: {failure}"
    except (OSError, ssl.SSLError, EOFError, ValueError) as exc:  # never end a checker: a probe that broke failed
        ok, reason = False, f"Failure: {type(exc).__name__}: {exc}"
    return Observation(ok, reason, address, wall, time.monotonic() - started)


class _Failure(Exception):
    pass


async def _target(config: CheckConfig, resolve: Resolve | None) -> str:
    if config.ip_address:
        return _loopback(config.ip_address)
    if not config.fqdn:
        raise _Failure("the health check names neither an IP address nor a domain name")
    if resolve is None:
        raise _Failure(f"DNS resolution failed for {config.fqdn}: no resolver")
    try:
        addresses = await resolve(config.fqdn)
    except Exception as exc:
        raise _Failure(f"DNS resolution failed for {config.fqdn}: {exc}") from exc
    if not addresses:
        raise _Failure(f"DNS resolution failed for {config.fqdn}: no address")
    return _loopback(addresses[0])


def _loopback(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise _Failure(f"not an IP address: {host}") from exc
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if not address.is_loopback:  # localcloud never sends a packet off the host
        raise _Failure(f"endpoint {host} is outside localcloud (loopback only)")
    return str(address)


async def _probe_address(config: CheckConfig, address: str, limits: ProbeLimits,
                         shared_tls: ssl.SSLContext | None) -> tuple[bool, str]:
    kind = config.type
    if kind == "TCP":
        _, writer = await _connect(address, config.port, limits.tcp_connect, None)
        await _close(writer)
        return True, "Success: TCP connection established"
    tls = (shared_tls or no_verify_tls()) if kind.startswith("HTTPS") else None
    server_name = (config.fqdn or address) if tls else None
    reader, writer = await _connect(address, config.port, limits.connect, tls, server_name)
    try:
        return await asyncio.wait_for(_http(config, reader, writer, address), limits.response)
    except TimeoutError:
        raise _Failure(f"Timeout: no response within {limits.response:g} s after connecting") from None
    except (OSError, ssl.SSLError, EOFError, UnicodeError) as exc:  # a reset or a torn TLS record mid-answer
        raise _Failure(f"Connection failed while reading the response: {exc}") from exc
    finally:
        await _close(writer)


# A timeout noticed this much later than it was due means our own loop was starved (a shared, loaded
# host), not that the endpoint was slow: Route 53's checkers are never starved, so the attempt is repeated.
_LATE_FACTOR = 1.5
_ATTEMPTS_WHEN_LATE = 2


async def _connect(address: str, port: int, timeout: float, tls: ssl.SSLContext | None,
                   server_name: str | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for attempt in range(1, _ATTEMPTS_WHEN_LATE + 1):
        started = time.monotonic()
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(address, port, ssl=tls, server_hostname=server_name), timeout)
        except TimeoutError:
            if time.monotonic() - started > _LATE_FACTOR * timeout and attempt < _ATTEMPTS_WHEN_LATE:
                continue
            raise _Failure(f"Connection timed out. The endpoint or the internet connection is down, or "
                           f"requests are being blocked ({timeout:g} s)") from None
        except ConnectionRefusedError:
            raise _Failure("Connection refused. The endpoint is not listening") from None
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(f"Connection failed: {exc}") from exc
    raise AssertionError("unreachable")  # the loop returns or raises


async def _http(config: CheckConfig, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                address: str) -> tuple[bool, str]:
    host = config.fqdn or address
    path = config.resource_path or "/"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Amazon-Route53-Health-Check-Service\r\n"
                 "Connection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise _Failure("the endpoint did not answer with an HTTP status line")
    status = int(parts[1])
    if not 200 <= status < 400:
        return False, f"Failure: HTTP Status Code {status}"
    if config.search_string:
        body = b""
        while len(body) < STRING_MATCH_BYTES + 4096 and (chunk := await reader.read(4096)):
            body += chunk
        _, _, rest = body.partition(b"\r\n\r\n")
        if config.search_string.encode() not in rest[:STRING_MATCH_BYTES]:
            return False, "Failure: Search string not found in the response body"
    return True, f"Success: HTTP Status Code {status}, OK"


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


def no_verify_tls() -> ssl.SSLContext:
    """A client context that validates nothing, as Route 53's HTTPS checks. Not `create_default_context()`:
    that loads the system's CA store, 20 ms of CPU under the GIL per HTTPS probe for certificates never read."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
