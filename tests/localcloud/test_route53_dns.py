"""The DNS server on real loopback sockets, fed from a fake zone source (no moto)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from localcloud.route53.dns import AuthoritativeDNS
from localcloud.route53.model import RecordSet, Zone

SOA = "ns-1.awsdns-1.com. hostmaster.example.com. 1 7200 900 1209600 86400"


class FakeSource:
    def __init__(self, *zones: Zone) -> None:
        self.live = {z.id: z for z in zones}

    def zones(self) -> dict[str, Zone]:
        return dict(self.live)

    def zone(self, zone_id: str) -> Zone | None:
        return self.live.get(zone_id)


def example(*records: RecordSet, name: str = "example.com.", zone_id: str = "Z1", private: bool = False,
            vpcs: tuple[str, ...] = ()) -> Zone:
    return Zone.build(zone_id, name, private=private, vpcs=vpcs,
                      records=[RecordSet(name, "SOA", 900, (SOA,)), *records])


BIG = RecordSet("big.example.com.", "TXT", 60, tuple(f'"{i:03d}-{"x" * 60}"' for i in range(40)))
WWW = RecordSet("www.example.com.", "A", 30, ("127.0.0.1",))


@pytest.fixture
def server() -> Iterator[AuthoritativeDNS]:
    dns_server = AuthoritativeDNS(source=FakeSource(example(WWW, BIG)))
    dns_server.start()
    try:
        yield dns_server
    finally:
        dns_server.stop()


def udp(server: AuthoritativeDNS, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    host, port = server.address
    return dns.query.udp(dns.message.make_query(name, rdtype, **kw), host, port=port, timeout=3)  # type: ignore[arg-type]


def tcp(server: AuthoritativeDNS, name: str, rdtype: str = "A") -> dns.message.Message:
    host, port = server.address
    return dns.query.tcp(dns.message.make_query(name, rdtype), host, port=port, timeout=3)


def test_answers_over_udp_and_tcp_with_the_aa_flag(server: AuthoritativeDNS) -> None:
    for reply in (udp(server, "WWW.Example.com"), tcp(server, "www.example.com")):
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
        assert [r.to_text() for r in reply.answer[0]] == ["127.0.0.1"] and reply.answer[0].ttl == 30
    assert udp(server, "WWW.Example.com").answer[0].name.to_text() == "WWW.Example.com."  # case kept


def test_big_answer_is_truncated_over_udp_and_whole_over_tcp(server: AuthoritativeDNS) -> None:
    truncated = udp(server, "big.example.com", "TXT", use_edns=False)
    whole = tcp(server, "big.example.com", "TXT")

    assert truncated.flags & dns.flags.TC and not truncated.answer
    assert not whole.flags & dns.flags.TC and len(whole.answer[0]) == 40


def test_edns_payload_lets_a_bigger_answer_through_udp(server: AuthoritativeDNS) -> None:
    reply = udp(server, "big.example.com", "TXT", use_edns=0, payload=4096)

    assert not reply.flags & dns.flags.TC and len(reply.answer[0]) == 40


def test_nxdomain_has_the_soa_and_unknown_zone_is_refused(server: AuthoritativeDNS) -> None:
    missing, elsewhere = udp(server, "nope.example.com"), udp(server, "www.example.org")

    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority[0].rdtype == dns.rdatatype.SOA
    assert elsewhere.rcode() == dns.rcode.REFUSED and not elsewhere.flags & dns.flags.AA


def test_garbage_gets_formerr_and_other_opcodes_notimp(server: AuthoritativeDNS) -> None:
    notify = dns.message.make_query("example.com", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)

    garbage = server.answer(b"\x12\x34" + b"\x00" * 10 + b"\xff\xff", None)

    assert garbage is not None and dns.message.from_wire(garbage).rcode() == dns.rcode.FORMERR
    assert server.answer(b"\x01", None) is None
    reply = server.answer(notify.to_wire(), None)
    assert reply is not None and dns.message.from_wire(reply).rcode() == dns.rcode.NOTIMP


def test_private_zone_answers_only_on_its_vpc_listener() -> None:
    private = example(RecordSet("db.corp.internal.", "A", 30, ("127.0.0.9",)), name="corp.internal.",
                      zone_id="ZP", private=True, vpcs=("vpc-1",))
    server = AuthoritativeDNS(source=FakeSource(example(WWW), private))
    server.add_vpc_listener("vpc-1")
    server.start()
    try:
        late = server.add_vpc_listener("vpc-2")
        host, port = server.vpc_address("vpc-1")
        query = dns.message.make_query("db.corp.internal", "A")
        inside = dns.query.udp(query, host, port=port, timeout=3)
        other = dns.query.tcp(query, late[0], port=late[1], timeout=3)
        outside = udp(server, "db.corp.internal")
        public_inside = dns.query.udp(dns.message.make_query("www.example.com", "A"), host, port=port, timeout=3)
    finally:
        server.stop()

    assert [r.to_text() for r in inside.answer[0]] == ["127.0.0.9"]
    assert outside.rcode() == dns.rcode.REFUSED and other.rcode() == dns.rcode.REFUSED
    assert public_inside.answer  # a VPC sees public zones as well


def test_runs_on_a_loop_it_is_given_and_leaves_the_loop_running() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = AuthoritativeDNS(source=FakeSource(example(WWW)))
    try:
        server.start(loop)
        server.start(loop)  # idempotent
        reply = udp(server, "www.example.com")
        server.stop()
        server.stop()
        assert loop.is_running() and reply.answer
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_start_async_inside_the_loop() -> None:
    async def scenario() -> list[str]:
        server = AuthoritativeDNS(source=FakeSource(example(WWW)))
        await server.start_async()
        try:
            host, port = server.address
            reply = await dns.asyncquery.udp(dns.message.make_query("www.example.com", "A"), host,
                                             port=port, timeout=3)
            return [r.to_text() for r in reply.answer[0]]
        finally:
            await server.stop_async()

    assert asyncio.run(scenario()) == ["127.0.0.1"]


def test_stop_closes_its_thread_and_sockets() -> None:
    server = AuthoritativeDNS(source=FakeSource(example(WWW)))
    server.start()
    host, port = server.address
    server.stop()

    assert not [t for t in threading.enumerate() if t.name == "localcloud-dns"]
    with pytest.raises((dns.exception.Timeout, OSError)):
        dns.query.udp(dns.message.make_query("www.example.com", "A"), host, port=port, timeout=0.3)


def test_refuses_to_listen_off_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AuthoritativeDNS("0.0.0.0", source=FakeSource())


class BrokenHealth:
    def is_healthy(self, health_check_id: str) -> bool:
        raise RuntimeError("health checker crashed")


def test_a_broken_health_view_costs_one_servfail_not_the_server() -> None:
    weighted = [RecordSet("w.example.com.", "A", 30, (f"127.0.0.{i}",), set_identifier=str(i), weight=1,
                          health_check_id=f"hc-{i}") for i in (1, 2)]
    server = AuthoritativeDNS(source=FakeSource(example(WWW, *weighted)), health=BrokenHealth())
    server.start()
    try:
        broken, fine = udp(server, "w.example.com"), udp(server, "www.example.com")
    finally:
        server.stop()

    assert broken.rcode() == dns.rcode.SERVFAIL and fine.answer


def test_stopped_server_starts_again() -> None:
    server = AuthoritativeDNS(source=FakeSource(example(WWW)))
    try:
        server.start()
        server.stop()
        server.start()
        reply = udp(server, "www.example.com")
    finally:
        server.stop()

    assert reply.answer and server.describe()["running"] is False
