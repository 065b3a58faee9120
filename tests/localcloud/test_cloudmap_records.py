"""Which record sets Cloud Map makes of a service's registrations (pure, no moto)."""

from __future__ import annotations

import pytest

from localcloud.cloudmap.records import Registration, record_name, record_sets, record_types, values_by_type

NAME = record_name("Origin", "internal.example.test.")
V6 = {"AWS_INSTANCE_IPV6": "::ffff:127.5.0.10", "AWS_INSTANCE_IPV4": "127.5.0.10"}


def config(policy: str = "MULTIVALUE", *types: str) -> dict[str, object]:
    return {"RoutingPolicy": policy, "DnsRecords": [{"Type": t, "TTL": 30} for t in types or ("AAAA",)]}


def test_multivalue_makes_one_record_set_per_instance_named_service_dot_namespace() -> None:
    sets = record_sets(NAME, config(), [Registration("i-2", {"AWS_INSTANCE_IPV6": "::ffff:127.5.0.11"}),
                                        Registration("i-1", V6)])

    assert NAME == "origin.internal.example.test."
    assert sets == [
        {"Name": NAME, "Type": "AAAA", "TTL": 30, "ResourceRecords": ["::ffff:127.5.0.10"], "SetIdentifier": "i-1",
         "MultiValueAnswer": True},
        {"Name": NAME, "Type": "AAAA", "TTL": 30, "ResourceRecords": ["::ffff:127.5.0.11"], "SetIdentifier": "i-2",
         "MultiValueAnswer": True}]


def test_weighted_gives_every_instance_weight_one() -> None:
    sets = record_sets(NAME, config("WEIGHTED", "A", "AAAA"), [Registration("i-1", V6)])

    assert [(s["Type"], s["Weight"], s["ResourceRecords"]) for s in sets] == [
        ("A", 1, ["127.5.0.10"]), ("AAAA", 1, ["::ffff:127.5.0.10"])]


def test_unhealthy_or_addressless_instances_have_no_record_set() -> None:
    sets = record_sets(NAME, config("MULTIVALUE", "A"), [
        Registration("i-sick", V6, healthy=False), Registration("i-v6only", {"AWS_INSTANCE_IPV6": "::1"}),
        Registration("i-ok", V6)])

    assert values_by_type(sets) == {"A": ["127.5.0.10"]}


def test_only_a_and_aaaa_are_modelled_and_unknown_policies_refused() -> None:
    assert record_types({"DnsRecords": [{"Type": "SRV", "TTL": 5}, {"Type": "aaaa", "TTL": 5}]}) == ["AAAA"]
    assert record_types(None) == []
    with pytest.raises(ValueError, match="routing policy"):
        record_sets(NAME, config("LATENCY"), [])


def test_registration_addresses_name_what_was_registered() -> None:
    assert Registration("i-1", V6).addresses() == {"ipv4": "127.5.0.10", "ipv6": "::ffff:127.5.0.10"}
    assert Registration("i-2", {"AWS_INSTANCE_PORT": "80"}).addresses() == {}
