"""Route 53 through the real API (moto server, boto3) and the real wire (dnspython over UDP and TCP)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from gameday.clock import FakeClock
from localcloud.profiles import Delay
from localcloud.route53 import CHANGE_EVENT, AuthoritativeDNS, StaticHealth
from localcloud.route53.moto_bridge import MotoZones, change_hook_owner

pytestmark = pytest.mark.integration

Events = list[tuple[str, str, Mapping[str, Any]]]




@pytest.fixture
def zone(route53: Any) -> Iterator[tuple[str, str]]:
    """A fresh public zone (id, name); removed from moto afterwards so other tests never see it."""
    name = f"z{uuid.uuid4().hex[:8]}.gameday.test"
    zone_id = route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    try:
        yield zone_id, name
    finally:
        MotoZones()._backend().zones.pop(zone_id.rsplit("/", 1)[-1], None)


@pytest.fixture
def start_dns() -> Iterator[Callable[..., AuthoritativeDNS]]:
    started: list[AuthoritativeDNS] = []
    if (owner := change_hook_owner()) is not None:
        pytest.skip(f"{owner} holds moto's Route 53 hook: a LocalCloud runs in this process")

    def start(**kwargs: Any) -> AuthoritativeDNS:
        server = AuthoritativeDNS(**kwargs)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def change(route53: Any, zone_id: str, *record_sets: dict[str, Any], action: str = "UPSERT") -> str:
    batch = {"Changes": [{"Action": action, "ResourceRecordSet": rs} for rs in record_sets]}
    return str(route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)["ChangeInfo"]["Id"])


def a(name: str, *values: str, ttl: int = 30, **routing: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values], **routing}


def ask(server: AuthoritativeDNS, name: str, rdtype: str = "A", *, tcp: bool = False,
        where: tuple[str, int] | None = None) -> dns.message.Message:
    host, port = where or server.address
    query = dns.message.make_query(name, rdtype)
    return (dns.query.tcp if tcp else dns.query.udp)(query, host, port=port, timeout=3)


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(r.to_text() for rrset in reply.answer for r in rrset)


def health_check(route53: Any, ip: str) -> str:
    config = {"Type": "TCP", "IPAddress": ip, "Port": 80}
    return str(route53.create_health_check(CallerReference=uuid.uuid4().hex, HealthCheckConfig=config)
               ["HealthCheck"]["Id"])


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.02)


def test_simple_record_over_udp_and_tcp(route53: Any, zone: tuple[str, str],
                                        start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    server = start_dns()
    change(route53, zone_id, a(f"www.{name}", "127.0.0.10", ttl=45))

    for reply in (ask(server, f"www.{name}"), ask(server, f"www.{name}", tcp=True)):
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
        assert addresses(reply) == ["127.0.0.10"] and reply.answer[0].ttl == 45


def test_apex_soa_and_ns_then_nxdomain_versus_nodata(route53: Any, zone: tuple[str, str],
                                                     start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    server = start_dns(negative_ttl_cap=30)
    change(route53, zone_id, a(f"www.{name}", "127.0.0.10"))

    soa, ns = ask(server, name, "SOA"), ask(server, name, "NS", tcp=True)
    missing, nodata = ask(server, f"nope.{name}"), ask(server, f"www.{name}", "AAAA")

    assert soa.answer[0].ttl == 900 and len(ns.answer[0]) == 4
    assert missing.rcode() == dns.rcode.NXDOMAIN and nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    for reply in (missing, nodata):
        assert [(r.name.to_text(), r.ttl, r.rdtype) for r in reply.authority] == [(f"{name}.", 30, 6)]


def test_weighted_distribution_and_health_skipping(route53: Any, zone: tuple[str, str],
                                                   start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    health = StaticHealth()
    hc_blue, hc_green = health_check(route53, "127.0.0.1"), health_check(route53, "127.0.0.2")
    server = start_dns(health=health)
    change(route53, zone_id,
           a(f"api.{name}", "127.0.0.1", SetIdentifier="blue", Weight=3, HealthCheckId=hc_blue),
           a(f"api.{name}", "127.0.0.2", SetIdentifier="green", Weight=1, HealthCheckId=hc_green))

    counts = Counter(addresses(ask(server, f"api.{name}"))[0] for _ in range(200))
    health.set(hc_blue, False)
    skipped = Counter(addresses(ask(server, f"api.{name}"))[0] for _ in range(30))
    health.set(hc_green, False)
    last_resort = Counter(addresses(ask(server, f"api.{name}"))[0] for _ in range(100))

    assert 0.6 < counts["127.0.0.1"] / 200 < 0.9 and counts["127.0.0.2"] > 0  # one address per answer, 3:1
    assert set(skipped) == {"127.0.0.2"}
    assert set(last_resort) == {"127.0.0.1", "127.0.0.2"}  # none healthy: all count again


def test_failover_primary_secondary_and_both_down(route53: Any, zone: tuple[str, str],
                                                  start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    health = StaticHealth()
    hc_p, hc_s = health_check(route53, "127.0.0.1"), health_check(route53, "127.0.0.2")
    server = start_dns(health=health)
    change(route53, zone_id,
           a(f"app.{name}", "127.0.0.1", SetIdentifier="p", Failover="PRIMARY", HealthCheckId=hc_p),
           a(f"app.{name}", "127.0.0.2", SetIdentifier="s", Failover="SECONDARY", HealthCheckId=hc_s))

    seen = [addresses(ask(server, f"app.{name}"))]
    health.set(hc_p, False)
    seen.append(addresses(ask(server, f"app.{name}", tcp=True)))
    health.set(hc_s, False)
    seen.append(addresses(ask(server, f"app.{name}")))

    assert seen == [["127.0.0.1"], ["127.0.0.2"], ["127.0.0.1"]]


def test_multivalue_returns_the_healthy_records(route53: Any, zone: tuple[str, str],
                                                start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    checks = [health_check(route53, f"127.0.0.{i}") for i in range(1, 11)]
    health = StaticHealth(unhealthy=checks[:2])
    server = start_dns(health=health)
    change(route53, zone_id, *(a(f"mv.{name}", f"127.0.0.{i + 1}", SetIdentifier=f"r{i}", MultiValueAnswer=True,
                                 HealthCheckId=hc) for i, hc in enumerate(checks)))

    answer = addresses(ask(server, f"mv.{name}"))

    assert len(answer) == 8 and not {"127.0.0.1", "127.0.0.2"} & set(answer)


def test_alias_to_a_record_in_the_zone_takes_its_ttl(route53: Any, zone: tuple[str, str],
                                                     start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    server = start_dns()
    change(route53, zone_id, a(f"origin.{name}", "127.0.0.20", ttl=12),
           {"Name": name, "Type": "A", "AliasTarget": {"HostedZoneId": zone_id, "DNSName": f"origin.{name}",
                                                      "EvaluateTargetHealth": False}})

    reply = ask(server, name)

    assert addresses(reply) == ["127.0.0.20"] and reply.answer[0].ttl == 12
    assert reply.answer[0].name.to_text() == f"{name}."


def test_private_zone_is_refused_outside_its_vpc(route53: Any, start_dns: Callable[..., AuthoritativeDNS]) -> None:
    name = f"p{uuid.uuid4().hex[:8]}.internal"
    zone_id = route53.create_hosted_zone(Name=name, CallerReference=name, HostedZoneConfig={"PrivateZone": True},
                                         VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-0a1"})["HostedZone"]["Id"]
    try:
        server = start_dns()
        inside = server.add_vpc_listener("vpc-0a1")
        change(route53, zone_id, a(f"origin.{name}", "127.0.0.30"))

        outside_reply = ask(server, f"origin.{name}")
        inside_reply = ask(server, f"origin.{name}", where=inside)
    finally:
        MotoZones()._backend().zones.pop(zone_id.rsplit("/", 1)[-1], None)

    assert outside_reply.rcode() == dns.rcode.REFUSED
    assert addresses(inside_reply) == ["127.0.0.30"] and inside_reply.flags & dns.flags.AA


def test_change_is_visible_only_after_the_propagation_delay(route53: Any, zone: tuple[str, str],
                                                            start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    clock, events = FakeClock(), []
    change(route53, zone_id, a(f"www.{name}", "127.0.0.1"))
    server = start_dns(propagation_delay=Delay(20.0, 20.0), clock=clock,
                       on_event=lambda kind, subject, detail: events.append((kind, subject, detail)))

    change_id = change(route53, zone_id, a(f"www.{name}", "127.0.0.2"))
    before = (addresses(ask(server, f"www.{name}")), route53.get_change(Id=change_id)["ChangeInfo"]["Status"])
    clock.advance(19.5)
    still = addresses(ask(server, f"www.{name}"))
    clock.advance(0.5)
    after = (addresses(ask(server, f"www.{name}")), route53.get_change(Id=change_id)["ChangeInfo"]["Status"])
    wait_until(lambda: any(kind == CHANGE_EVENT for kind, _, _ in events))

    assert before == (["127.0.0.1"], "PENDING") and still == ["127.0.0.1"]
    assert after == (["127.0.0.2"], "INSYNC")
    [(_, subject, detail)] = [e for e in events if e[0] == CHANGE_EVENT]
    assert subject == f"www.{name}." and detail["values"] == ["127.0.0.2"]
    assert detail["change_id"] == change_id.rsplit("/", 1)[-1] and detail["zone"] == f"{name}."


def test_change_that_bypasses_the_api_is_delayed_too(route53: Any, zone: tuple[str, str],
                                                     start_dns: Callable[..., AuthoritativeDNS]) -> None:
    zone_id, name = zone
    clock = FakeClock()
    server = start_dns(propagation_delay=Delay(5.0, 5.0), clock=clock, poll_interval=0.02)
    moto_zone = MotoZones()._backend().get_hosted_zone(zone_id)

    moto_zone.add_rrset(a(f"cfn.{name}.", "127.0.0.40"))  # what CloudFormation does: no API call, no hook
    wait_until(lambda: server.propagation.pending() == 1)  # the poller saw it; the fake clock stands still
    hidden = ask(server, f"cfn.{name}").rcode()
    clock.advance(5.0)

    assert hidden == dns.rcode.NXDOMAIN
    assert addresses(ask(server, f"cfn.{name}")) == ["127.0.0.40"]


def test_hook_is_removed_when_the_server_stops(route53: Any, zone: tuple[str, str]) -> None:
    zone_id, name = zone
    server = AuthoritativeDNS(propagation_delay=Delay(60.0, 60.0))
    server.start()
    server.stop()

    change_id = change(route53, zone_id, a(f"www.{name}", "127.0.0.1"))

    assert route53.get_change(Id=change_id)["ChangeInfo"]["Status"] == "INSYNC"  # moto's own behaviour


def test_a_delete_must_name_the_record_as_it_is_now(route53: Any, zone: tuple[str, str],
                                                   start_dns: Callable[..., AuthoritativeDNS]) -> None:
    """Route 53 deletes only an exact match (moto alone deletes the current record for any values it once had):
    a cleanup deleting the old value after a replacement's UPSERT fails instead of removing the new record."""
    from botocore.exceptions import ClientError

    zone_id, name = zone
    start_dns(propagation_delay=Delay(0.0, 0.0))
    change(route53, zone_id, a(f"www.{name}", "127.0.0.1"))
    change(route53, zone_id, a(f"www.{name}", "127.0.0.2"))

    with pytest.raises(ClientError, match="InvalidChangeBatch.*do not match the current values"):
        change(route53, zone_id, a(f"www.{name}", "127.0.0.1"), action="DELETE")
    with pytest.raises(ClientError, match="InvalidChangeBatch"):
        change(route53, zone_id, a(f"www.{name}", "127.0.0.2", ttl=31), action="DELETE")
    kept = [r for r in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if r["Type"] == "A"]
    change(route53, zone_id, a(f"www.{name}", "127.0.0.2"), action="DELETE")
    left = [r for r in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if r["Type"] == "A"]

    assert [r["ResourceRecords"] for r in kept] == [[{"Value": "127.0.0.2"}]] and left == []
