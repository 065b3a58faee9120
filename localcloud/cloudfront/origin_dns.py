"""How an edge resolves a VPC origin's domain name: through that VPC's DNS listener (the only one that
answers the VPC's private zones), AAAA then A, each answer cached for its TTL.

CloudFront's origin DNS caching is undocumented (docs/aws-timings.md §9.8, §17.3); the assumption is a resolver
that honours the TTL: a positive answer is kept for max(TTL, `min_ttl_s`), a negative one (NXDOMAIN or
no address) for min(SOA TTL, SOA MINIMUM) capped at `negative_cap_s` (RFC 2308). A lookup that fails
(timeout, REFUSED, SERVFAIL, no listener) is not cached: the next request asks again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

Server = tuple[str, int]
QTYPES = ("AAAA", "A")  # IPv6 first: an IPv6-only origin has nothing else


@dataclass(frozen=True)
class OriginAnswer:
    name: str
    vpc_id: str
    addresses: tuple[str, ...]  # AAAA values first, then A values
    rcode: str  # NOERROR, NXDOMAIN, NODATA (the name exists, no address), or why the lookup failed
    ttl_s: float  # how long the edge keeps this answer (0: not cached)
    expires_mono: float

    @property
    def failed(self) -> bool:
        return not self.addresses


OnChange = Callable[[OriginAnswer, OriginAnswer | None], None]  # (new answer, the one it replaced)


class OriginDns:
    """Loop thread only. `server_for(vpc_id)` is that VPC's DNS listener (None: the VPC has none)."""

    def __init__(self, server_for: Callable[[str], Server | None], *, min_ttl_s: float, negative_cap_s: float,
                 on_change: OnChange | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._server_for = server_for
        self._min_ttl_s = min_ttl_s
        self._negative_cap_s = negative_cap_s
        self._on_change = on_change
        self._clock = clock
        self._cache: dict[tuple[str, str], OriginAnswer] = {}
        self._last: dict[tuple[str, str], OriginAnswer] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[OriginAnswer]] = {}

    def cached(self, vpc_id: str, name: str) -> OriginAnswer | None:
        answer = self._cache.get((vpc_id, name))
        return answer if answer is not None and answer.expires_mono > self._clock() else None

    async def resolve(self, vpc_id: str, name: str, timeout_s: float) -> OriginAnswer:
        key = (vpc_id, name.lower().rstrip("."))
        fresh = self.cached(*key)
        if fresh is not None:
            return fresh
        pending = self._inflight.get(key)
        if pending is not None:  # one lookup per name at a time, however many requests miss together
            return await asyncio.shield(pending)
        future: asyncio.Future[OriginAnswer] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer = await self._lookup(*key, timeout_s)
            future.set_result(answer)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._inflight[key]
        self._remember(key, answer)
        return answer

    def _remember(self, key: tuple[str, str], answer: OriginAnswer) -> None:
        if answer.ttl_s > 0:
            self._cache[key] = answer
        else:
            self._cache.pop(key, None)
        previous = self._last.get(key)
        self._last[key] = answer
        changed = previous is None or (previous.addresses, previous.rcode) != (answer.addresses, answer.rcode)
        if changed and self._on_change is not None:
            self._on_change(answer, previous)

    async def _lookup(self, vpc_id: str, name: str, timeout_s: float) -> OriginAnswer:
        server = self._server_for(vpc_id)
        if server is None:
            return self._answer(name, vpc_id, (), "NO-VPC-RESOLVER", 0.0)
        replies = await asyncio.gather(*(_query(server, name, qtype, timeout_s) for qtype in QTYPES))
        addresses: list[str] = []
        ttls: list[float] = []
        negative: list[float] = []
        rcodes = []
        for reply in replies:
            if isinstance(reply, str):
                rcodes.append(reply)
                continue
            rcodes.append(dns.rcode.to_text(reply.rcode()))
            for rrset in reply.answer:
                if rrset.rdtype in (dns.rdatatype.AAAA, dns.rdatatype.A):
                    addresses += [rdata.to_text() for rdata in rrset]
                    ttls.append(float(rrset.ttl))
            for rrset in reply.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    negative.append(float(min(rrset.ttl, rrset[0].minimum)))
        if addresses:
            return self._answer(name, vpc_id, tuple(addresses), "NOERROR", max(min(ttls), self._min_ttl_s))
        if all(code in ("NOERROR", "NXDOMAIN") for code in rcodes):
            rcode = "NXDOMAIN" if "NXDOMAIN" in rcodes else "NODATA"
            return self._answer(name, vpc_id, (), rcode, min([*negative, self._negative_cap_s]))
        return self._answer(name, vpc_id, (), next(c for c in rcodes if c not in ("NOERROR", "NXDOMAIN")), 0.0)

    def _answer(self, name: str, vpc_id: str, addresses: tuple[str, ...], rcode: str, ttl_s: float) -> OriginAnswer:
        return OriginAnswer(name, vpc_id, addresses, rcode, ttl_s, self._clock() + ttl_s)


async def _query(server: Server, name: str, qtype: str, timeout_s: float) -> dns.message.Message | str:
    """The reply, or why there is none ("TIMEOUT", "UNREACHABLE")."""
    query = dns.message.make_query(name if name.endswith(".") else name + ".", qtype)
    try:
        return await dns.asyncquery.udp(query, server[0], timeout=timeout_s, port=server[1])
    except dns.exception.Timeout:
        return "TIMEOUT"
    except (OSError, dns.exception.DNSException):
        return "UNREACHABLE"
