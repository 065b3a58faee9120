"""What an origin-group scenario needs besides the generic flow: where the distribution answers (its name
resolved through the cloud's DNS, as a client would) and the probes for a cache miss and a cache hit."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rdatatype

from gameday.backends.base import Backend
from gameday.errors import DeployError
from gameday.probes import HttpProbe

MISS_PROBE = "http:cdn-miss"
HIT_PROBE = "http:cdn-hit"


def resolve_name(backend: Backend, name: str) -> str:
    """One A record for `name`, asked of the backend's authoritative resolver (never the system's)."""
    servers = [r for r in backend.resolvers() if r.kind == "authoritative"] or backend.resolvers()
    if not servers:
        raise DeployError(f"no resolver to look up {name}")
    reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), servers[0].host, port=servers[0].port,
                          timeout=2.0)
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.A:
            return str(next(iter(rrset)).address)
    raise DeployError(f"{name} does not resolve at {servers[0].host}:{servers[0].port}")


def cdn_probes(address: str, *, timeout_s: float, rate_hz: float = 4.0) -> list[HttpProbe]:
    """A cache-miss page (CachingDisabled: every request reaches an origin) and a cached asset."""
    return [HttpProbe(MISS_PROBE, f"http://{address}/index.html", rate_hz=rate_hz, timeout_s=timeout_s),
            HttpProbe(HIT_PROBE, f"http://{address}/static/logo.txt", rate_hz=rate_hz, timeout_s=timeout_s)]
