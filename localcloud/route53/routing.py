"""Route 53's answer logic over published zone snapshots: zone choice, routing policies, health, alias,
CNAME, wildcards, delegations and negative answers. Pure (no sockets, no moto): text in, `Resolution` out.

Rules, from docs/aws-timings.md §3 (AWS's "How Route 53 chooses records when health checking is configured"):
weighted picks one record set by weight among the healthy ones (none healthy: all count; weight 0 only
when every weight > 0 is unhealthy); failover answers PRIMARY if healthy, else a healthy SECONDARY,
else PRIMARY; multivalue answers up to 8 healthy record sets (none healthy: up to 8 of all); an alias
answers with its target's records and TTL, and with EvaluateTargetHealth is as healthy as its target.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from localcloud.route53.model import RecordSet, Zone, is_within, parent_of
from localcloud.route53.seams import AliasResolver, HealthView

MAX_CHAIN = 8  # CNAME hops and alias hops followed inside our zones
MULTIVALUE_MAX = 8


@dataclass(frozen=True)
class Rrset:
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    rcode: str  # NOERROR | NXDOMAIN | REFUSED | SERVFAIL
    authoritative: bool
    answer: tuple[Rrset, ...] = ()
    authority: tuple[Rrset, ...] = ()
    additional: tuple[Rrset, ...] = ()
    zone: str | None = None  # the zone that answered (normalised name)


REFUSED = Resolution("REFUSED", authoritative=False)


class Router:
    """Answers questions from one set of zones, as seen by one client network (`vpc_id`, None = internet)."""

    def __init__(self, zones: Iterable[Zone], *, vpc_id: str | None, health: HealthView,
                 aliases: AliasResolver, rng: random.Random, negative_ttl_cap: int | None = None) -> None:
        visible = [z for z in zones if z.visible_to(vpc_id)]
        # Longest name first; a private zone shadows a public one of the same name (split horizon).
        self._zones = sorted(visible, key=lambda z: (-len(z.name), not z.private, z.id))
        self._by_id = {z.id: z for z in self._zones}
        self._health = health
        self._aliases = aliases
        self._rng = rng
        self._negative_ttl_cap = negative_ttl_cap

    def resolve(self, qname: str, qtype: str) -> Resolution:
        zone = self._zone_for(qname)
        if zone is None:
            return self._outside(qname, qtype)
        return self._in_zone(zone, qname, qtype, 0)

    def _outside(self, qname: str, qtype: str) -> Resolution:
        """Names AWS answers from its own zones (a CloudFront or ALB name): what the alias seam knows."""
        known = self._aliases.resolve(qname, qtype)
        if known is None or not known.values:
            return REFUSED
        return Resolution("NOERROR", True, (Rrset(qname, qtype, known.ttl, known.values),))

    def _zone_for(self, name: str) -> Zone | None:
        return next((z for z in self._zones if is_within(name, z.name)), None)

    # --- inside one zone ---

    def _in_zone(self, zone: Zone, qname: str, qtype: str, depth: int) -> Resolution:
        cut = self._delegation(zone, qname)
        if cut is not None and not (qtype == "DS" and cut[0].name == qname):
            return self._referral(zone, cut)
        owned = zone.at(qname)
        if not owned and not zone.exists(qname):
            owned = self._wildcard(zone, qname)
            if not owned:
                return self._negative(zone, "NXDOMAIN")
        groups: dict[str, list[RecordSet]] = {}
        for record in owned:
            groups.setdefault(record.type, []).append(record)
        if qtype == "ANY":
            found = [rr for group in groups.values() for rr in self._route(zone, qname, group, depth)]
            return self._positive(zone, found) if found else self._negative(zone, "NOERROR")
        if qtype in groups:
            found = self._route(zone, qname, groups[qtype], depth)
            return self._positive(zone, found) if found else self._negative(zone, "NOERROR")
        if "CNAME" in groups:
            return self._follow_cname(zone, self._route(zone, qname, groups["CNAME"], depth), qtype, depth)
        return self._negative(zone, "NOERROR")

    def _follow_cname(self, zone: Zone, cname: list[Rrset], qtype: str, depth: int) -> Resolution:
        if not cname or not cname[0].values:
            return self._negative(zone, "NOERROR")
        target = cname[0].values[0].lower().rstrip(".") + "."
        if depth + 1 >= MAX_CHAIN or not is_within(target, zone.name):
            return self._positive(zone, cname)
        rest = self._in_zone(zone, target, qtype, depth + 1)
        return Resolution(rest.rcode if rest.rcode != "REFUSED" else "NOERROR", rest.authoritative,
                          tuple(cname) + rest.answer, rest.authority, rest.additional, zone.name)

    def _wildcard(self, zone: Zone, qname: str) -> tuple[RecordSet, ...]:
        """RFC 4592: synthesise from `*.<closest encloser>` when the name does not exist."""
        encloser = parent_of(qname)
        while is_within(encloser, zone.name):
            if zone.exists(encloser):
                return zone.at("*." + encloser)
            encloser = parent_of(encloser)
        return ()

    def _delegation(self, zone: Zone, qname: str) -> tuple[RecordSet, ...] | None:
        name = qname
        while name != zone.name and is_within(name, zone.name):
            ns = tuple(r for r in zone.at(name) if r.type == "NS")
            if ns:
                return ns
            name = parent_of(name)
        return None

    def _referral(self, zone: Zone, ns: tuple[RecordSet, ...]) -> Resolution:
        authority = tuple(Rrset(r.name, "NS", r.ttl or 0, r.values) for r in ns)
        glue: list[Rrset] = []
        for target in {v.lower().rstrip(".") + "." for r in ns for v in r.values}:
            if is_within(target, zone.name):
                glue += [Rrset(target, r.type, r.ttl or 0, r.values) for r in zone.at(target)
                         if r.type in ("A", "AAAA") and r.alias is None]
        return Resolution("NOERROR", False, (), authority, tuple(glue), zone.name)

    def _positive(self, zone: Zone, found: Sequence[Rrset]) -> Resolution:
        return Resolution("NOERROR", True, tuple(found), (), (), zone.name)

    def _negative(self, zone: Zone, rcode: str) -> Resolution:
        soa = zone.soa
        if soa is None or not soa.values:
            return Resolution(rcode, True, zone=zone.name)
        # RFC 2308: negative answers are cached for min(SOA TTL, SOA MINIMUM).
        ttl = min(soa.ttl or 0, soa_minimum(soa) or 0)
        if self._negative_ttl_cap is not None:
            ttl = min(ttl, self._negative_ttl_cap)
        return Resolution(rcode, True, (), (Rrset(zone.name, "SOA", ttl, soa.values[:1]),), (), zone.name)

    # --- routing policies ---

    def _route(self, zone: Zone, owner: str, group: list[RecordSet], depth: int) -> list[Rrset]:
        """The answer for one (name, type) group: choose record sets by policy, then materialise them."""
        chosen = self._choose(zone, group, depth)
        merged: dict[str, Rrset] = {}
        for record in chosen:
            for rr in self._materialise(zone, owner, record, depth):
                if rr.type in merged:
                    old = merged[rr.type]
                    values = old.values + tuple(v for v in rr.values if v not in old.values)
                    rr = Rrset(owner, rr.type, min(old.ttl, rr.ttl), values)
                merged[rr.type] = rr
        return list(merged.values())

    def _choose(self, zone: Zone, group: list[RecordSet], depth: int) -> list[RecordSet]:
        policy = group[0].policy
        if policy == "simple":
            return group
        healthy = [r for r in group if self._healthy(zone, r, depth)]
        if policy == "failover":
            return [_failover(group, healthy)]
        if policy == "weighted":
            pool = healthy or group  # none healthy: all are considered
            positive = [r for r in pool if (r.weight or 0) > 0]
            if positive:
                return self._rng.choices(positive, weights=[r.weight or 0 for r in positive])
            return [self._rng.choice(pool)]
        if policy == "multivalue":
            pool = healthy or group
            return self._rng.sample(pool, min(MULTIVALUE_MAX, len(pool)))
        # Latency and geolocation need a client location localcloud does not model: first healthy.
        return [(healthy or group)[0]]

    def _healthy(self, zone: Zone, record: RecordSet, depth: int) -> bool:
        if record.health_check_id and not self._health.is_healthy(record.health_check_id):
            return False
        if record.alias is not None and record.alias.evaluate_target_health:
            return self._alias_healthy(zone, record, depth)
        return True

    def _alias_healthy(self, zone: Zone, record: RecordSet, depth: int) -> bool:
        assert record.alias is not None
        target_zone = self._alias_zone(record)
        if target_zone is None:
            outside = self._aliases.resolve(record.alias.dns_name, record.type)
            return outside is not None and outside.healthy
        if depth + 1 >= MAX_CHAIN:
            return False
        targets = [r for r in target_zone.at(record.alias.dns_name) if r.type == record.type]
        return any(self._healthy(target_zone, r, depth + 1) for r in targets)

    def _materialise(self, zone: Zone, owner: str, record: RecordSet, depth: int) -> list[Rrset]:
        if record.alias is None:
            return [Rrset(owner, record.type, record.ttl or 0, record.values)] if record.values else []
        target_zone = self._alias_zone(record)
        if target_zone is None:
            outside = self._aliases.resolve(record.alias.dns_name, record.type)
            if outside is None or not outside.values:
                return []
            return [Rrset(owner, record.type, outside.ttl, outside.values)]
        if depth + 1 >= MAX_CHAIN:
            return []
        # The alias answers with the target's records under its own name, with the target's TTL.
        target = self._in_zone(target_zone, record.alias.dns_name, record.type, depth + 1)
        return [Rrset(owner, rr.type, rr.ttl, rr.values) for rr in target.answer if rr.type == record.type]

    def _alias_zone(self, record: RecordSet) -> Zone | None:
        assert record.alias is not None
        named = self._by_id.get(record.alias.hosted_zone_id)
        if named is not None and is_within(record.alias.dns_name, named.name):
            return named
        return self._zone_for(record.alias.dns_name)


def _failover(group: list[RecordSet], healthy: list[RecordSet]) -> RecordSet:
    primary = next((r for r in group if r.failover == "PRIMARY"), None)
    secondary = next((r for r in group if r.failover == "SECONDARY"), None)
    if primary is not None and primary in healthy:
        return primary
    if secondary is not None and secondary in healthy:
        return secondary
    return primary or secondary or group[0]


def soa_minimum(soa: RecordSet) -> int | None:
    fields = soa.values[0].split() if soa.values else []
    return int(fields[-1]) if len(fields) == 7 and fields[-1].isdigit() else None
