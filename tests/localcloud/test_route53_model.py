"""Snapshots of moto's records: every spelling moto stores reads the same."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localcloud.route53.model import normalize_name, record_from_moto, zone_from_moto


def moto_record(**fields: Any) -> SimpleNamespace:
    base = dict(name="www.example.com.", type="A", ttl=60, records=[], set_identifier=None, weight=None,
                region=None, health_check_id=None, alias_target=None, failover=None, geo_location=None,
                multi_value_answer=None)
    return SimpleNamespace(**{**base, **fields})


def test_names_read_the_same_with_or_without_the_trailing_dot_and_escaped_wildcards() -> None:
    assert {normalize_name(n) for n in ("Example.COM", "example.com.", " example.com ")} == {"example.com."}
    assert normalize_name("\\052.example.com") == "*.example.com."


def test_cloudformation_spelling_strings_flags_and_zone_id_prefixes() -> None:
    record = record_from_moto(moto_record(
        name="app.example.com", ttl=None, weight="10", set_identifier="blue", multi_value_answer="false",
        alias_target={"HostedZoneId": "/hostedzone/Z123", "DNSName": "Origin.Example.com",
                      "EvaluateTargetHealth": "true"}))

    assert (record.name, record.weight, record.multivalue, record.ttl) == ("app.example.com.", 10, False, None)
    assert record.alias is not None
    assert (record.alias.hosted_zone_id, record.alias.dns_name, record.alias.evaluate_target_health) == (
        "Z123", "origin.example.com.", True)
    assert record.policy == "weighted"


def test_the_soa_moto_creates_and_a_ttl_it_should_have_rejected() -> None:
    soa = record_from_moto(moto_record(name="example.com", type="SOA", ttl=900,
                                       records=[{"Value": "ns-1.awsdns-1.com. hostmaster.example.com. 1 2 3 4 5"}]))
    bad = record_from_moto(moto_record(ttl="abc", records=["127.0.0.1"]))

    assert soa.values == ("ns-1.awsdns-1.com. hostmaster.example.com. 1 2 3 4 5",)
    assert bad.ttl is None and bad.values == ("127.0.0.1",)


def test_zone_snapshot_keeps_privacy_and_vpcs_and_compares_by_content() -> None:
    raw = SimpleNamespace(id="/hostedzone/ZP", name="corp.internal", private_zone=True,
                          vpcs=[{"vpc_id": "vpc-1", "vpc_region": "us-east-1"}],
                          rrsets=[moto_record(name="db.corp.internal", records=["127.0.0.9"])])

    zone = zone_from_moto(raw)

    assert (zone.id, zone.name, zone.private, zone.vpcs) == ("ZP", "corp.internal.", True, frozenset({"vpc-1"}))
    assert zone == zone_from_moto(raw) and zone.at("db.corp.internal.")[0].values == ("127.0.0.9",)
    assert zone.exists("corp.internal.") is True and zone.exists("nope.corp.internal.") is False
