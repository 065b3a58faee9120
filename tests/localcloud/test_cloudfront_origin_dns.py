"""The edge's origin DNS cache against a stub name server: answers kept for their TTL (on a fake clock),
negative answers for the SOA's negative TTL under the cap, failures not kept, one lookup at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import dns.message
import dns.rcode
import dns.rrset

from localcloud.cloudfront.origin_dns import OriginAnswer, OriginDns

NAME = "origin.internal.example.test"
SOA = "ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60"


class StubServer(asyncio.DatagramProtocol):
    """Answers AAAA from `records` (name -> (ttl, addresses)); anything else NXDOMAIN with an SOA."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[int, list[str]]] = {}
        self.rcode = dns.rcode.NOERROR
        self.queries = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.queries += 1
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        found = self.records.get(name)
        if self.rcode != dns.rcode.NOERROR:
            reply.set_rcode(self.rcode)
        elif found is not None and dns.rdatatype.to_text(question.rdtype) == "AAAA":
            reply.answer.append(dns.rrset.from_text_list(question.name, found[0], "IN", "AAAA", found[1]))
        else:
            if found is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            reply.authority.append(dns.rrset.from_text("example.test.", 900, "IN", "SOA", SOA))
        assert self.transport is not None
        self.transport.sendto(reply.to_wire(), addr)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(act: Callable[[OriginDns, StubServer, Clock, list[OriginAnswer]], Awaitable[Any]],
        negative_cap_s: float = 30.0) -> Any:
    async def main() -> Any:
        loop = asyncio.get_running_loop()
        transport, stub = await loop.create_datagram_endpoint(StubServer, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        clock, changes = Clock(), []
        resolver = OriginDns(lambda vpc: ("127.0.0.1", port) if vpc == "vpc-1" else None, min_ttl_s=0.0,
                             negative_cap_s=negative_cap_s, on_change=lambda new, old: changes.append(new),
                             clock=clock)
        try:
            return await act(resolver, stub, clock, changes)
        finally:
            transport.close()

    return asyncio.run(main())


def test_an_answer_is_kept_for_its_ttl_and_then_looked_up_again() -> None:
    async def act(resolver: OriginDns, stub: StubServer, clock: Clock, changes: list[OriginAnswer]) -> Any:
        stub.records[NAME] = (30, ["::ffff:127.0.0.5"])
        first = await resolver.resolve("vpc-1", NAME, 1.0)
        stub.records[NAME] = (30, ["::ffff:127.0.0.6"])
        clock.now += 29.9
        held = await resolver.resolve("vpc-1", NAME, 1.0)
        clock.now += 0.2
        fresh = await resolver.resolve("vpc-1", NAME, 1.0)
        return first, held, fresh, [c.addresses for c in changes], stub.queries

    first, held, fresh, changes, queries = run(act)

    assert first.addresses == held.addresses == ("::ffff:127.0.0.5",) and first.ttl_s == 30
    assert fresh.addresses == ("::ffff:127.0.0.6",)
    assert changes == [("::ffff:127.0.0.5",), ("::ffff:127.0.0.6",)]
    assert queries == 4  # AAAA and A, twice


def test_a_missing_name_is_cached_for_the_soa_negative_ttl_under_the_cap() -> None:
    async def act(resolver: OriginDns, stub: StubServer, clock: Clock, changes: list[OriginAnswer]) -> Any:
        missing = await resolver.resolve("vpc-1", NAME, 1.0)
        stub.records[NAME] = (30, ["::ffff:127.0.0.5"])
        clock.now += 9.9
        still = await resolver.resolve("vpc-1", NAME, 1.0)
        clock.now += 0.2
        return missing, still, await resolver.resolve("vpc-1", NAME, 1.0)

    missing, still, found = run(act, negative_cap_s=10.0)

    assert missing.rcode == "NXDOMAIN" and missing.failed and missing.ttl_s == 10.0  # min(900, 60, cap 10)
    assert still is missing
    assert found.addresses == ("::ffff:127.0.0.5",)


def test_a_failed_lookup_is_not_kept_and_a_vpc_without_a_listener_fails() -> None:
    async def act(resolver: OriginDns, stub: StubServer, clock: Clock, changes: list[OriginAnswer]) -> Any:
        stub.rcode = dns.rcode.SERVFAIL
        failed = await resolver.resolve("vpc-1", NAME, 1.0)
        stub.rcode = dns.rcode.NOERROR
        stub.records[NAME] = (30, ["::ffff:127.0.0.5"])
        return failed, await resolver.resolve("vpc-1", NAME, 1.0), await resolver.resolve("vpc-2", NAME, 1.0)

    failed, recovered, elsewhere = run(act)

    assert failed.rcode == "SERVFAIL" and failed.ttl_s == 0
    assert recovered.addresses == ("::ffff:127.0.0.5",)
    assert elsewhere.rcode == "NO-VPC-RESOLVER" and elsewhere.failed


def test_requests_that_miss_together_share_one_lookup() -> None:
    async def act(resolver: OriginDns, stub: StubServer, clock: Clock, changes: list[OriginAnswer]) -> Any:
        stub.records[NAME] = (30, ["::ffff:127.0.0.5"])
        answers = await asyncio.gather(*(resolver.resolve("vpc-1", NAME, 1.0) for _ in range(5)))
        return answers, stub.queries, len(changes)

    answers, queries, changes = run(act)

    assert {a.addresses for a in answers} == {("::ffff:127.0.0.5",)}
    assert queries == 2 and changes == 1
