"""What a caching resolver (unbound) in front of Route 53 does to clients: TTLs, positive and negative."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest

from localcloud.resolver import CachingResolver
from localcloud.route53 import AuthoritativeDNS
from localcloud.route53.moto_bridge import MotoZones, change_hook_owner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound missing: apt-get install unbound"),
]




@pytest.fixture
def stack(route53: Any) -> Iterator[tuple[str, str, AuthoritativeDNS, CachingResolver]]:
    """A fresh zone, the authoritative server (negative TTL capped at 3 s) and unbound in front of it."""
    if (owner := change_hook_owner()) is not None:
        pytest.skip(f"{owner} holds moto's Route 53 hook: a LocalCloud runs in this process")
    name = f"t{uuid.uuid4().hex[:8]}.gameday.test"
    zone_id = route53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    server = AuthoritativeDNS(negative_ttl_cap=3)
    try:
        server.start()
        with CachingResolver({name: server.address}) as resolver:
            yield zone_id, name, server, resolver
    finally:
        server.stop()
        MotoZones()._backend().zones.pop(zone_id.rsplit("/", 1)[-1], None)


def upsert(route53: Any, zone_id: str, name: str, value: str, ttl: int) -> None:
    record = {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": value}]}
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]})


def ask(address: tuple[str, int], name: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, "A"), address[0], port=address[1], timeout=3)


def answer(address: tuple[str, int], name: str) -> str:
    reply = ask(address, name)
    if reply.rcode() != dns.rcode.NOERROR:
        return dns.rcode.to_text(reply.rcode())
    return ",".join(sorted(r.to_text() for rrset in reply.answer for r in rrset)) or "NODATA"


def seconds_until(predicate: Callable[[], bool], since: float, timeout: float = 20.0) -> float:
    while not predicate():
        if time.monotonic() - since > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - since


def test_a_change_reaches_cached_clients_only_when_the_ttl_runs_out(
        route53: Any, stack: tuple[str, str, AuthoritativeDNS, CachingResolver]) -> None:
    zone_id, name, server, resolver = stack
    www = f"www.{name}"
    upsert(route53, zone_id, www, "127.0.0.1", ttl=4)

    cached_at = time.monotonic()
    first = ask(resolver.address, www)
    upsert(route53, zone_id, www, "127.0.0.2", ttl=4)
    authoritative, through_cache = answer(server.address, www), answer(resolver.address, www)
    waited = seconds_until(lambda: answer(resolver.address, www) == "127.0.0.2", since=cached_at)

    assert [r.to_text() for r in first.answer[0]] == ["127.0.0.1"] and first.answer[0].ttl <= 4
    assert (authoritative, through_cache) == ("127.0.0.2", "127.0.0.1")
    assert waited >= 3.0  # the 4 s TTL, less unbound's whole-second rounding


def test_a_name_created_after_a_miss_stays_missing_for_the_negative_ttl(
        route53: Any, stack: tuple[str, str, AuthoritativeDNS, CachingResolver]) -> None:
    zone_id, name, server, resolver = stack
    late = f"late.{name}"

    missed_at = time.monotonic()
    miss = answer(resolver.address, late)
    upsert(route53, zone_id, late, "127.0.0.3", ttl=60)
    authoritative, through_cache = answer(server.address, late), answer(resolver.address, late)
    waited = seconds_until(lambda: answer(resolver.address, late) == "127.0.0.3", since=missed_at)

    assert (miss, authoritative, through_cache) == ("NXDOMAIN", "127.0.0.3", "NXDOMAIN")
    assert waited >= 2.0  # the SOA's negative TTL (capped at 3 s here, 900 s on AWS)


def test_names_outside_our_zones_are_refused_without_asking_anyone(
        stack: tuple[str, str, AuthoritativeDNS, CachingResolver]) -> None:
    _, _, _, resolver = stack

    assert answer(resolver.address, "example.org") == "REFUSED"
