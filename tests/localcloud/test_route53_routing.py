"""Route 53's answer rules over zone snapshots: no sockets, no moto."""

from __future__ import annotations

import random
from collections import Counter

from localcloud.route53.model import AliasTarget, RecordSet, Zone
from localcloud.route53.routing import Router
from localcloud.route53.seams import AliasTable, AllHealthy, HealthView, StaticHealth

SOA = RecordSet("example.com.", "SOA", 900,
                ("ns-1.awsdns-1.com. hostmaster.example.com. 1 7200 900 1209600 86400",))
NS = RecordSet("example.com.", "NS", 172800, ("ns-1.awsdns-1.com", "ns-2.awsdns-2.net"))


def zone(*records: RecordSet, name: str = "example.com", zone_id: str = "Z1", private: bool = False,
         vpcs: tuple[str, ...] = ()) -> Zone:
    apex = name.rstrip(".") + "."
    soa = RecordSet(apex, "SOA", SOA.ttl, SOA.values)
    return Zone.build(zone_id, name, private=private, vpcs=vpcs,
                      records=[soa, RecordSet(apex, "NS", NS.ttl, NS.values), *records])


def router(*zones: Zone, health: HealthView | None = None, aliases: AliasTable | None = None,
           vpc_id: str | None = None, seed: int = 7, cap: int | None = None) -> Router:
    return Router(zones, vpc_id=vpc_id, health=health or AllHealthy(), aliases=aliases or AliasTable(),
                  rng=random.Random(seed), negative_ttl_cap=cap)


def a(name: str, *values: str, ttl: int = 60, **routing: object) -> RecordSet:
    return RecordSet(name, "A", ttl, values, **routing)  # type: ignore[arg-type]


def picks(r: Router, name: str, n: int = 400) -> Counter[str]:
    return Counter(v for _ in range(n) for rr in r.resolve(name, "A").answer for v in rr.values)


def test_simple_record_answers_every_value_authoritatively() -> None:
    res = router(zone(a("www.example.com.", "127.0.0.1", "127.0.0.2", ttl=30))).resolve("www.example.com.", "A")

    assert (res.rcode, res.authoritative) == ("NOERROR", True)
    assert [(rr.name, rr.ttl, rr.values) for rr in res.answer] == [("www.example.com.", 30,
                                                                     ("127.0.0.1", "127.0.0.2"))]


def test_nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() -> None:
    r = router(zone(a("www.example.com.", "127.0.0.1")))

    missing, nodata = r.resolve("nope.example.com.", "A"), r.resolve("www.example.com.", "AAAA")

    assert missing.rcode == "NXDOMAIN" and nodata.rcode == "NOERROR" and not nodata.answer
    for res in (missing, nodata):
        assert [(rr.type, rr.ttl) for rr in res.authority] == [("SOA", 900)]  # min(SOA TTL 900, MINIMUM 86400)


def test_negative_ttl_cap_from_the_profile_lowers_the_soa_ttl() -> None:
    res = router(zone(), cap=30).resolve("nope.example.com.", "A")

    assert res.authority[0].ttl == 30


def test_empty_non_terminal_is_nodata_not_nxdomain() -> None:
    res = router(zone(a("a.b.example.com.", "127.0.0.1"))).resolve("b.example.com.", "A")

    assert res.rcode == "NOERROR" and not res.answer and res.authority


def test_name_outside_every_zone_is_refused() -> None:
    assert router(zone()).resolve("example.org.", "A").rcode == "REFUSED"


def test_weighted_picks_one_record_in_proportion_to_weight() -> None:
    r = router(zone(a("w.example.com.", "127.0.0.1", set_identifier="blue", weight=3),
                    a("w.example.com.", "127.0.0.2", set_identifier="green", weight=1)))

    counts = picks(r, "w.example.com.", 800)

    assert all(len(r.resolve("w.example.com.", "A").answer[0].values) == 1 for _ in range(20))
    assert 0.65 < counts["127.0.0.1"] / 800 < 0.85


def test_weighted_skips_unhealthy_and_uses_all_when_none_is_healthy() -> None:
    health = StaticHealth(unhealthy=["hc-blue"])
    z = zone(a("w.example.com.", "127.0.0.1", set_identifier="blue", weight=9, health_check_id="hc-blue"),
             a("w.example.com.", "127.0.0.2", set_identifier="green", weight=1, health_check_id="hc-green"))
    r = router(z, health=health)

    assert set(picks(r, "w.example.com.", 100)) == {"127.0.0.2"}
    health.set("hc-green", False)
    assert set(picks(r, "w.example.com.", 200)) == {"127.0.0.1", "127.0.0.2"}


def test_weight_zero_serves_only_when_every_positive_weight_is_unhealthy() -> None:
    health = StaticHealth()
    z = zone(a("w.example.com.", "127.0.0.1", set_identifier="main", weight=1, health_check_id="hc-main"),
             a("w.example.com.", "127.0.0.9", set_identifier="standby", weight=0))
    r = router(z, health=health)

    assert set(picks(r, "w.example.com.", 100)) == {"127.0.0.1"}
    health.set("hc-main", False)
    assert set(picks(r, "w.example.com.", 100)) == {"127.0.0.9"}


def test_failover_primary_then_secondary_then_primary_when_both_fail() -> None:
    health = StaticHealth()
    z = zone(a("app.example.com.", "127.0.0.1", set_identifier="p", failover="PRIMARY", health_check_id="hp"),
             a("app.example.com.", "127.0.0.2", set_identifier="s", failover="SECONDARY", health_check_id="hs"))
    r = router(z, health=health)
    answer = lambda: r.resolve("app.example.com.", "A").answer[0].values  # noqa: E731

    assert answer() == ("127.0.0.1",)
    health.set("hp", False)
    assert answer() == ("127.0.0.2",)
    health.set("hs", False)
    assert answer() == ("127.0.0.1",)


def test_multivalue_answers_up_to_eight_healthy_records() -> None:
    records = [a("m.example.com.", f"127.0.0.{i}", set_identifier=f"r{i}", multivalue=True,
                 health_check_id=f"h{i}") for i in range(1, 11)]
    health = StaticHealth(unhealthy=["h1", "h2", "h3"])
    r = router(zone(*records), health=health)

    values = r.resolve("m.example.com.", "A").answer[0].values

    assert len(values) == 7 and not {"127.0.0.1", "127.0.0.2", "127.0.0.3"} & set(values)
    for i in range(4, 11):
        health.set(f"h{i}", False)
    assert len(r.resolve("m.example.com.", "A").answer[0].values) == 8  # all unhealthy: up to 8 of all


def test_alias_answers_the_targets_records_with_the_targets_ttl() -> None:
    z = zone(a("target.example.com.", "127.0.0.7", ttl=17),
             RecordSet("example.com.", "A", None, alias=AliasTarget("Z1", "target.example.com.", False)))

    res = router(z).resolve("example.com.", "A")

    assert [(rr.name, rr.type, rr.ttl, rr.values) for rr in res.answer] == [
        ("example.com.", "A", 17, ("127.0.0.7",))]


def test_alias_with_evaluate_target_health_fails_over_with_its_target() -> None:
    health = StaticHealth()
    z = zone(a("origin.example.com.", "127.0.0.1", set_identifier="x", weight=1, health_check_id="h-origin"),
             RecordSet("app.example.com.", "A", None, set_identifier="p", failover="PRIMARY",
                       alias=AliasTarget("Z1", "origin.example.com.", True)),
             a("app.example.com.", "127.0.0.2", set_identifier="s", failover="SECONDARY"))
    r = router(z, health=health)

    assert r.resolve("app.example.com.", "A").answer[0].values == ("127.0.0.1",)
    health.set("h-origin", False)
    assert r.resolve("app.example.com.", "A").answer[0].values == ("127.0.0.2",)


def test_alias_outside_our_zones_goes_through_the_alias_resolver() -> None:
    aliases = AliasTable()
    aliases.set("my-alb-1.us-east-1.elb.amazonaws.com", "A", ["127.0.1.1"], healthy=False)
    z = zone(RecordSet("app.example.com.", "A", None, set_identifier="p", failover="PRIMARY",
                       alias=AliasTarget("Z35SXDOTRQ7X7K", "dualstack.my-alb-1.us-east-1.elb.amazonaws.com.",
                                         True)),
             RecordSet("app.example.com.", "A", None, set_identifier="s", failover="SECONDARY",
                       alias=AliasTarget("Z2FDTNDATAQYW2", "d111.cloudfront.net.", False)))
    r = router(z, aliases=aliases)

    assert r.resolve("app.example.com.", "A").rcode == "NOERROR"
    assert not r.resolve("app.example.com.", "A").answer  # the CloudFront name is unknown: nothing to say
    aliases.set("d111.cloudfront.net", "A", ["127.0.2.2"])
    assert r.resolve("app.example.com.", "A").answer[0].values == ("127.0.2.2",)
    aliases.set("my-alb-1.us-east-1.elb.amazonaws.com", "A", ["127.0.1.1"], healthy=True)
    assert [(rr.ttl, rr.values) for rr in r.resolve("app.example.com.", "A").answer] == [(60, ("127.0.1.1",))]


def test_cname_is_followed_inside_the_zone_and_wildcards_synthesise() -> None:
    z = zone(RecordSet("www.example.com.", "CNAME", 20, ("web.example.com",)), a("web.example.com.", "127.0.0.3"),
             RecordSet("*.example.com.", "TXT", 5, ('"wild"',)))
    r = router(z)

    cname = r.resolve("www.example.com.", "A")
    wild = r.resolve("anything.deep.example.com.", "TXT")

    assert [(rr.name, rr.type) for rr in cname.answer] == [("www.example.com.", "CNAME"), ("web.example.com.", "A")]
    assert [(rr.name, rr.values) for rr in wild.answer] == [("anything.deep.example.com.", ('"wild"',))]


def test_delegated_subdomain_gets_a_referral_not_an_answer() -> None:
    z = zone(RecordSet("sub.example.com.", "NS", 300, ("ns1.sub.example.com",)), a("ns1.sub.example.com.", "127.0.0.4"))

    res = router(z).resolve("host.sub.example.com.", "A")

    assert not res.authoritative and not res.answer
    assert [rr.type for rr in res.authority] == ["NS"] and res.additional[0].values == ("127.0.0.4",)


def test_private_zone_only_for_its_vpc_and_shadows_the_public_one() -> None:
    public = zone(a("db.corp.internal.", "127.0.0.1"), name="corp.internal", zone_id="ZPUB")
    private = zone(a("db.corp.internal.", "127.0.0.2"), name="corp.internal", zone_id="ZPRIV", private=True,
                   vpcs=("vpc-1",))
    only_private = zone(name="secret.internal", zone_id="ZS", private=True, vpcs=("vpc-1",))

    outside = router(public, private, only_private)
    inside = router(public, private, only_private, vpc_id="vpc-1")
    other_vpc = router(public, private, only_private, vpc_id="vpc-2")

    assert outside.resolve("db.corp.internal.", "A").answer[0].values == ("127.0.0.1",)
    assert inside.resolve("db.corp.internal.", "A").answer[0].values == ("127.0.0.2",)
    assert outside.resolve("x.secret.internal.", "A").rcode == "REFUSED"
    assert other_vpc.resolve("x.secret.internal.", "A").rcode == "REFUSED"
    assert inside.resolve("x.secret.internal.", "A").rcode == "NXDOMAIN"
