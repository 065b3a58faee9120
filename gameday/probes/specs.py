"""What to probe: one frozen, validated spec per probe kind. Bad input raises `ConfigError` here,
before anything is sent, so the CLI and the fixtures fail with one line."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import KW_ONLY, dataclass
from typing import Protocol
from urllib.parse import urlsplit

import dns.exception
import dns.name
import dns.rdatatype

from gameday.errors import ConfigError

MAX_RATE_HZ = 200.0  # the schedule accuracy and capacity the benchmarks vouch for
MAX_TIMEOUT_S = 60.0
DEFAULT_IDENTITY_HEADER = "x-served-by"
MAX_REDIRECTS = 5  # hops a probe may follow; browsers allow ~20, a service needing more is broken
RESOLVE_ONCE = math.inf  # HttpProbe.dns_cache_s of a client that resolves its name once, at start


class ProbeSpec(Protocol):
    """What the runner needs of any probe spec."""

    @property
    def name(self) -> str: ...

    @property
    def rate_hz(self) -> float: ...

    @property
    def timeout_s(self) -> float: ...

    @property
    def kind(self) -> str: ...

    @property
    def target(self) -> str: ...


@dataclass(frozen=True)
class HttpTarget:
    """A parsed http(s) URL: where to connect and what to ask."""

    scheme: str
    host: str  # as written, without brackets; an IP literal or a name
    port: int
    path: str  # path and query, never empty
    host_header: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


def parse_http_url(url: str) -> HttpTarget:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"malformed URL {url!r}: scheme must be http or https")
    if not parts.hostname:
        raise ConfigError(f"malformed URL {url!r}: no host")
    if any(c.isspace() for c in url):
        raise ConfigError(f"malformed URL {url!r}: contains whitespace")
    default_port = 443 if parts.scheme == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return HttpTarget(scheme=parts.scheme, host=parts.hostname, port=port or default_port, path=path,
                      host_header=parts.netloc.rpartition("@")[2])


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_common(name: str, rate_hz: float, timeout_s: float) -> None:
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"probe name must be non-empty without spaces, got {name!r}")
    if not isinstance(rate_hz, int | float) or not math.isfinite(rate_hz) or not 0 < rate_hz <= MAX_RATE_HZ:
        raise ConfigError(f"probe {name}: rate must be > 0 and <= {MAX_RATE_HZ:g} Hz, got {rate_hz!r}")
    if not isinstance(timeout_s, int | float) or not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ConfigError(f"probe {name}: timeout must be > 0 and <= {MAX_TIMEOUT_S:g} s, got {timeout_s!r}")


def _check_port(name: str, port: int) -> None:
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"probe {name}: port must be 1-65535, got {port!r}")


def _check_redirects(name: str, follow: int, expect_location: str | None) -> None:
    if not isinstance(follow, int) or isinstance(follow, bool) or not 0 <= follow <= MAX_REDIRECTS:
        raise ConfigError(f"probe {name}: follow_redirects must be 0-{MAX_REDIRECTS} hops, got {follow!r}")
    if expect_location is None:
        return
    if follow:
        raise ConfigError(f"probe {name}: follow_redirects and expect_location exclude each other "
                          "(follow the redirect, or check where it points)")
    if not expect_location.startswith(("http://", "https://")):
        raise ConfigError(f"probe {name}: expect_location must be an absolute http(s) URL prefix, "
                          f"got {expect_location!r}")


def _check_dns_cache(name: str, cache_s: float, host: str) -> None:
    if isinstance(cache_s, bool) or not isinstance(cache_s, int | float) or math.isnan(cache_s) or cache_s < 0:
        raise ConfigError(f"probe {name}: dns_cache_s must be >= 0 s (inf: resolve once), got {cache_s!r}")
    if cache_s and is_ip_literal(host):
        raise ConfigError(f"probe {name}: dns_cache_s needs a DNS name in the URL, got the address {host}")


@dataclass(frozen=True)
class HttpProbe:
    """GET `url` on a fixed schedule: a fresh connection per sample, or kept alive (which pins the
    address the connection was opened to, as browsers and SDKs do)."""

    name: str
    url: str
    rate_hz: float
    timeout_s: float = 1.0
    keepalive: bool = False
    # The response header naming who served; several, comma-separated, in order of preference (the first
    # present wins): e.g. an edge's own header for the origin behind it, then the origin's header.
    identity_header: str = DEFAULT_IDENTITY_HEADER
    # A 2xx whose identity header starts with none of these prefixes is a `fallback` (not good): the page
    # came from somewhere else, e.g. a CDN's maintenance origin. Several when the service is several
    # things by design (an origin group's primary and replica). None: any 2xx is good.
    expect_identity: str | tuple[str, ...] | None = None
    # Resolve the URL's name by asking this DNS server (host, port) at every new connection, as a client
    # behind that resolver would; None: the system resolver.
    dns_server: tuple[str, int] | None = None
    # False: accept any certificate (a backend with a self-signed one behind TLS passthrough).
    verify_tls: bool = True
    # A 3xx is not the page the user asked for: by default it is `http_3xx`, an error. A scenario whose
    # service answers with a redirect on purpose says so in one of two ways (not both):
    # follow up to this many hops (same timeout, same network guard and resolver) and judge the final
    # answer, as a browser would;
    follow_redirects: int = 0
    # or take a 3xx whose Location (made absolute against `url`) starts with this absolute http(s) URL
    # prefix as good, without following it (e.g. the redirect to a login or to the canonical host).
    expect_location: str | None = None
    # A runtime that caches DNS itself: a name's addresses are kept this long after a successful lookup
    # (the JVM's default positive cache is 30 s); RESOLVE_ONCE keeps the first answer for the whole run.
    # 0: resolved at every new connection.
    dns_cache_s: float = 0.0
    # Try the name's AAAA addresses before its A addresses, as an IPv6-first client (RFC 6724) does.
    prefer_ipv6: bool = False

    def __post_init__(self) -> None:
        _check_common(self.name, self.rate_hz, self.timeout_s)
        target = parse_http_url(self.url)
        _check_dns_cache(self.name, self.dns_cache_s, target.host)
        if self.dns_server is not None:
            if not is_ip_literal(self.dns_server[0]):
                raise ConfigError(f"probe {self.name}: DNS server must be an IP address, got {self.dns_server[0]!r}")
            _check_port(self.name, self.dns_server[1])
        if self.expected_identities is not None and not all(self.expected_identities):
            raise ConfigError(f"probe {self.name}: expected identities must be non-empty prefixes, "
                              f"got {self.expect_identity!r}")
        _check_redirects(self.name, self.follow_redirects, self.expect_location)

    @property
    def expected_identities(self) -> tuple[str, ...] | None:
        """The identity prefixes a 2xx must carry (None: any 2xx is good)."""
        if self.expect_identity is None:
            return None
        return (self.expect_identity,) if isinstance(self.expect_identity, str) else tuple(self.expect_identity)

    @property
    def kind(self) -> str:
        return "http_keepalive" if self.keepalive else "http"

    @property
    def target(self) -> str:
        return self.url


@dataclass(frozen=True)
class HealthProbe:
    """A HAProxy-style health endpoint: 200 up, 503 backend down, refused when the proxy is down."""

    name: str
    url: str
    rate_hz: float
    timeout_s: float = 1.0
    identity_header: str = DEFAULT_IDENTITY_HEADER

    def __post_init__(self) -> None:
        _check_common(self.name, self.rate_hz, self.timeout_s)
        parse_http_url(self.url)

    @property
    def kind(self) -> str:
        return "health"

    @property
    def target(self) -> str:
        return self.url

    @property
    def keepalive(self) -> bool:
        return False


@dataclass(frozen=True)
class DnsProbe:
    """Ask one DNS server (authoritative or caching) directly: UDP, falling back to TCP on truncation."""

    name: str
    qname: str
    rdtype: str = "A"
    _: KW_ONLY
    server: tuple[str, int]
    rate_hz: float
    timeout_s: float = 1.0
    # The answer set the service's name must have (e.g. its Elastic IP): any other answer is a `fallback`
    # (the name points elsewhere). Empty: any answer of the type is good (a failover changes the answers).
    expect_answers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.rate_hz, self.timeout_s)
        try:
            dns.name.from_text(self.qname)
        except dns.exception.DNSException as exc:
            raise ConfigError(f"probe {self.name}: bad DNS name {self.qname!r}: {exc}") from exc
        try:
            dns.rdatatype.from_text(self.rdtype)
        except dns.exception.DNSException as exc:
            raise ConfigError(f"probe {self.name}: unknown record type {self.rdtype!r}") from exc
        host, port = self.server
        if not is_ip_literal(host):
            raise ConfigError(f"probe {self.name}: DNS server must be an IP address, got {host!r}")
        _check_port(self.name, port)

    @property
    def kind(self) -> str:
        return "dns"

    @property
    def target(self) -> str:
        return f"{self.qname}/{self.rdtype.upper()}@{format_hostport(*self.server)}"


@dataclass(frozen=True)
class TcpProbe:
    """Open a TCP connection and close it: is anything listening, and does the SYN get an answer."""

    name: str
    host: str
    port: int
    rate_hz: float
    timeout_s: float = 1.0

    def __post_init__(self) -> None:
        _check_common(self.name, self.rate_hz, self.timeout_s)
        if not self.host or any(c.isspace() or c in "/[]" for c in self.host):
            raise ConfigError(f"probe {self.name}: bad host {self.host!r}")
        _check_port(self.name, self.port)

    @property
    def kind(self) -> str:
        return "tcp"

    @property
    def target(self) -> str:
        return format_hostport(self.host, self.port)


AnyProbe = HttpProbe | HealthProbe | DnsProbe | TcpProbe
