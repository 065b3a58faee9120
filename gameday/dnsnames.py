"""Names looked up the way a client of the stack would: through the cloud's own DNS (the backend's
resolvers), never the machine's system resolver, which knows nothing of a localcloud zone."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from gameday.backends.base import Backend, Resolver
from gameday.errors import DeployError

LOOKUP_TIMEOUT_S = 2.0


def resolve_name(backend: Backend, name: str) -> str:
    """One A record for `name`, asked of the backend's authoritative resolver (the answer a recursive
    resolver would cache), or of any resolver it has when it has no authoritative one."""
    server = lookup_server(backend, name)
    try:
        reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), server.host, port=server.port,
                              timeout=LOOKUP_TIMEOUT_S)
    except (dns.exception.DNSException, OSError) as exc:
        raise DeployError(f"looking up {name} at {server.name} ({server.host}:{server.port}): "
                          f"{type(exc).__name__}: {exc}") from exc
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.A:
            return str(next(iter(rrset)).address)
    raise DeployError(f"{name} has no A record at {server.name} ({server.host}:{server.port})")


def lookup_server(backend: Backend, name: str) -> Resolver:
    """The resolver `resolve_name` asks: the authoritative one first, else the first the backend has."""
    servers = backend.resolvers()
    authoritative = [r for r in servers if r.kind == "authoritative"]
    if not (authoritative or servers):
        raise DeployError(f"cannot look up {name}: the {backend.name} backend has no DNS resolver "
                          f"(give one with --resolver)")
    return (authoritative or servers)[0]
