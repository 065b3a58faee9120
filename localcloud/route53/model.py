"""Immutable snapshots of hosted zones, the unit the DNS server answers from and propagation publishes.

Everything is normalised once here: names lower-case and absolute (trailing dot), `\\052` as `*`,
TTLs and weights as ints, zone ids without the `/hostedzone/` prefix. moto stores names, TTLs and
flags as they were written (with or without the dot, strings or ints); nothing past this module cares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SOA_DEFAULT_TTL = 900  # what Route 53 (and moto) give a new zone's SOA


def normalize_name(name: str) -> str:
    """`Api.Example.com` / `api.example.com.` / `\\052.example.com` -> `api.example.com.` / `*.example.com.`."""
    name = name.strip().replace("\\052", "*").lower()
    return name if name.endswith(".") else name + "."


def zone_id_of(raw: str) -> str:
    return raw.rsplit("/", 1)[-1]


def is_within(name: str, zone: str) -> bool:
    """Both normalised: is `name` equal to `zone` or below it?"""
    return zone == "." or name == zone or name.endswith("." + zone)


def parent_of(name: str) -> str:
    head, _, rest = name.partition(".")
    return rest or "."


@dataclass(frozen=True)
class AliasTarget:
    hosted_zone_id: str
    dns_name: str
    evaluate_target_health: bool


@dataclass(frozen=True)
class RecordSet:
    """One Route 53 resource record set, routing fields included."""

    name: str
    type: str
    ttl: int | None  # None for an alias: the target decides
    values: tuple[str, ...] = ()
    set_identifier: str | None = None
    weight: int | None = None
    failover: str | None = None  # "PRIMARY" | "SECONDARY"
    multivalue: bool = False
    health_check_id: str | None = None
    alias: AliasTarget | None = None
    region: str | None = None  # latency records (answered like simple ones, see routing)
    geo: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a record set inside a zone: Route 53 rejects two with the same key."""
        return (self.name, self.type, self.set_identifier or "")

    @property
    def policy(self) -> str:
        if self.failover:
            return "failover"
        if self.weight is not None:
            return "weighted"
        if self.multivalue:
            return "multivalue"
        if self.region or self.geo:
            return "latency-or-geo"
        return "simple"

    def describe(self) -> dict[str, Any]:
        """JSON-friendly form for events."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "ttl": self.ttl,
                               "values": list(self.values), "policy": self.policy}
        if self.set_identifier is not None:
            out["set_identifier"] = self.set_identifier
        if self.weight is not None:
            out["weight"] = self.weight
        if self.failover:
            out["failover"] = self.failover
        if self.health_check_id:
            out["health_check_id"] = self.health_check_id
        if self.alias:
            out["alias"] = {"hosted_zone_id": self.alias.hosted_zone_id, "dns_name": self.alias.dns_name,
                            "evaluate_target_health": self.alias.evaluate_target_health}
        return out


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    private: bool
    vpcs: frozenset[str]
    records: tuple[RecordSet, ...]
    _by_name: Mapping[str, tuple[RecordSet, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, id: str, name: str, *, private: bool = False, vpcs: Iterable[str] = (),
              records: Iterable[RecordSet] = ()) -> Zone:
        ordered = tuple(sorted(records, key=lambda r: (r.name, r.type, r.set_identifier or "")))
        by_name: dict[str, list[RecordSet]] = {}
        for record in ordered:
            by_name.setdefault(record.name, []).append(record)
        return cls(zone_id_of(id), normalize_name(name), private, frozenset(vpcs), ordered,
                   {k: tuple(v) for k, v in by_name.items()})

    def at(self, name: str) -> tuple[RecordSet, ...]:
        return self._by_name.get(name, ())

    def exists(self, name: str) -> bool:
        """A name exists if it owns records or is an empty non-terminal (some name sits below it)."""
        if name in self._by_name:
            return True
        suffix = "." + name
        return any(owner.endswith(suffix) for owner in self._by_name)

    @property
    def soa(self) -> RecordSet | None:
        for record in self.at(self.name):
            if record.type == "SOA":
                return record
        return None

    def visible_to(self, vpc_id: str | None) -> bool:
        return not self.private or (vpc_id is not None and vpc_id in self.vpcs)


def record_from_moto(raw: Any) -> RecordSet:
    """A moto `RecordSet` (or anything with the same attributes) as a snapshot."""
    alias = None
    if raw.alias_target:
        target = raw.alias_target
        alias = AliasTarget(zone_id_of(str(target.get("HostedZoneId", ""))),
                            normalize_name(str(target["DNSName"])),
                            _flag(target.get("EvaluateTargetHealth")))
    return RecordSet(
        name=normalize_name(str(raw.name)),
        type=str(raw.type).upper(),
        ttl=None if alias else _int(raw.ttl),
        values=tuple(_value(v) for v in (raw.records or ())),
        set_identifier=None if raw.set_identifier is None else str(raw.set_identifier),
        weight=_int(raw.weight),
        failover=str(raw.failover).upper() if raw.failover else None,
        multivalue=_flag(raw.multi_value_answer),
        health_check_id=str(raw.health_check_id) if raw.health_check_id else None,
        alias=alias,
        region=str(raw.region) if raw.region else None,
        geo=bool(raw.geo_location),
    )


def zone_from_moto(raw: Any) -> Zone:
    vpcs = [str(v["vpc_id"]) for v in raw.vpcs if v.get("vpc_id")]
    return Zone.build(str(raw.id), str(raw.name), private=bool(raw.private_zone), vpcs=vpcs,
                      records=[record_from_moto(r) for r in list(raw.rrsets)])


def _value(value: Any) -> str:
    # moto stores the SOA it creates as {"Value": "..."}; everything else as plain strings.
    if isinstance(value, Mapping):
        value = value.get("Value", "")
    return str(value).strip()


def _int(value: Any) -> int | None:
    # moto accepts what AWS would reject (a TTL of "abc"); such a field reads as absent, not as a crash.
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
