"""Which Route 53 record sets a Cloud Map service's registered instances stand for, as AWS creates them.

Pure: a service's DnsConfig plus its instances in, record sets (Route 53 API shape) out. As on AWS, one
record set per instance and DNS record type, named `<service>.<namespace>.`, with the instance id as
SetIdentifier: MULTIVALUE record sets carry `MultiValueAnswer`, WEIGHTED ones `Weight: 1` (Route 53
then picks one instance at random). A or AAAA only (SRV and CNAME are not modelled); an instance
without the address attribute for a type has no record set of that type, an UNHEALTHY one none at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ADDRESS_ATTRIBUTE = {"A": "AWS_INSTANCE_IPV4", "AAAA": "AWS_INSTANCE_IPV6"}
MULTIVALUE, WEIGHTED = "MULTIVALUE", "WEIGHTED"


@dataclass(frozen=True)
class Registration:
    """One registered instance, as Cloud Map holds it."""

    instance_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    healthy: bool = True

    def addresses(self) -> dict[str, str]:
        """{"ipv4": …, "ipv6": …}, whichever the instance registered (for events)."""
        return {kind: self.attributes[attribute]
                for kind, attribute in (("ipv4", "AWS_INSTANCE_IPV4"), ("ipv6", "AWS_INSTANCE_IPV6"))
                if self.attributes.get(attribute)}


def record_name(service: str, namespace: str) -> str:
    return f"{service}.{namespace}".lower().rstrip(".") + "."


def record_types(dns_config: Mapping[str, Any] | None) -> list[str]:
    """The modelled record types the service's DnsConfig asks for, in its order."""
    records = (dns_config or {}).get("DnsRecords") or []
    return [str(r["Type"]).upper() for r in records if str(r.get("Type", "")).upper() in ADDRESS_ATTRIBUTE]


def record_sets(name: str, dns_config: Mapping[str, Any] | None,
                registrations: Iterable[Registration]) -> list[dict[str, Any]]:
    """The record sets for `name` (from `record_name`) that `registrations` make, sorted by (type, instance)."""
    config = dns_config or {}
    policy = str(config.get("RoutingPolicy") or MULTIVALUE).upper()
    if policy not in (MULTIVALUE, WEIGHTED):
        raise ValueError(f"unknown Cloud Map routing policy {policy!r}")
    ttls = {str(r["Type"]).upper(): int(r.get("TTL", 60)) for r in config.get("DnsRecords") or []}
    out: list[dict[str, Any]] = []
    for rtype in sorted(record_types(config)):
        for reg in sorted(registrations, key=lambda r: r.instance_id):
            value = reg.attributes.get(ADDRESS_ATTRIBUTE[rtype])
            if not reg.healthy or not value:
                continue
            record: dict[str, Any] = {"Name": name, "Type": rtype, "TTL": ttls[rtype], "ResourceRecords": [value],
                                      "SetIdentifier": reg.instance_id}
            if policy == MULTIVALUE:
                record["MultiValueAnswer"] = True
            else:
                record["Weight"] = 1
            out.append(record)
    return out


def values_by_type(sets: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """{"AAAA": [values…]} of some record sets: what a full answer would hold (for events)."""
    found: dict[str, list[str]] = {}
    for record in sets:
        found.setdefault(str(record["Type"]), []).extend(str(v) for v in record["ResourceRecords"])
    return {rtype: sorted(values) for rtype, values in found.items()}
