"""A distribution's configuration as CloudFormation writes it, read once into frozen dataclasses, with
every timing already scaled to the cloud's time profile (see localcloud.timescale)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localcloud.profiles import Profile
from localcloud.timescale import factor, scaled

# Managed cache policies the reference stacks use (AWS's fixed ids), as default TTLs in AWS seconds.
MANAGED_CACHE_POLICIES = {
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": 0.0,  # CachingDisabled
    "658327ea-f89d-4fab-a63d-7e88639e58f6": 86400.0,  # CachingOptimized
}
FAILOVER_METHODS = ("GET", "HEAD", "OPTIONS")
ALWAYS_CACHED_ERRORS = frozenset({404, 414, 500, 501, 502, 503, 504})


@dataclass(frozen=True)
class Origin:
    origin_id: str
    domain_name: str
    s3: bool
    origin_path: str
    signed: bool  # origin access control: requests carry CloudFront's identity
    attempts: int
    connect_timeout_s: float
    read_timeout_s: float
    http_port: int = 80
    vpc_origin_id: str | None = None  # a VPC origin: the address comes from the VPC's DNS, the port from it


@dataclass(frozen=True)
class OriginGroup:
    group_id: str
    members: tuple[str, ...]
    status_codes: frozenset[int]


@dataclass(frozen=True)
class Behavior:
    path_pattern: str  # "*" for the default behavior
    target: str  # an origin id or an origin-group id
    methods: tuple[str, ...]
    ttl_s: float  # how long a 2xx stays cached at the edge (0: never)

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.path_pattern if self.path_pattern.startswith("/")
                                   else "/" + self.path_pattern)


@dataclass(frozen=True)
class DistributionConfig:
    distribution_id: str
    arn: str
    origins: Mapping[str, Origin]
    groups: Mapping[str, OriginGroup]
    behaviors: tuple[Behavior, ...]  # path behaviors in order, the default last
    default_root_object: str
    error_ttl_s: Mapping[int, float]  # per status code; others use `default_error_ttl_s`
    default_error_ttl_s: float

    def behavior_for(self, path: str) -> Behavior:
        return next(b for b in self.behaviors if b.path_pattern == "*" or b.matches(path))

    def members_of(self, target: str) -> tuple[Origin, ...]:
        group = self.groups.get(target)
        ids = group.members if group is not None else (target,)
        return tuple(self.origins[i] for i in ids if i in self.origins)


def _items(value: Any) -> list[Any]:
    """CloudFormation writes lists either bare or as {Quantity, Items}."""
    if isinstance(value, Mapping):
        return list(value.get("Items", []))
    return list(value or [])


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _origin(raw: Mapping[str, Any], profile: Profile) -> Origin:
    custom = raw.get("CustomOriginConfig")
    vpc = raw.get("VpcOriginConfig")
    attempts = int(raw.get("ConnectionAttempts") or profile.count("cloudfront.connection_attempts"))
    timeouts = custom or vpc
    read_timeout = _float(timeouts.get("OriginReadTimeout")) if timeouts else None
    return Origin(
        origin_id=str(raw["Id"]), domain_name=str(raw["DomainName"]).lower().rstrip("."), s3=timeouts is None,
        origin_path=str(raw.get("OriginPath") or ""), signed=bool(raw.get("OriginAccessControlId")),
        attempts=max(1, min(3, attempts)),
        connect_timeout_s=scaled(profile, "cloudfront.connection_timeout", _float(raw.get("ConnectionTimeout"))),
        read_timeout_s=scaled(profile, "cloudfront.response_timeout", read_timeout),
        http_port=int(custom.get("HTTPPort", 80)) if custom else 80,
        vpc_origin_id=str(vpc["VpcOriginId"]) if vpc else None)


def _behavior(raw: Mapping[str, Any], pattern: str, profile: Profile) -> Behavior:
    policy = raw.get("CachePolicyId")
    aws_ttl = MANAGED_CACHE_POLICIES.get(str(policy), 86400.0) if policy else float(raw.get("DefaultTTL", 86400))
    methods = tuple(str(m).upper() for m in _items(raw.get("AllowedMethods")) or ("GET", "HEAD"))
    ttl = aws_ttl * factor(profile, "cloudfront.error_caching_min_ttl")
    return Behavior(pattern, str(raw["TargetOriginId"]), methods, ttl)


def parse(distribution_id: str, raw: Mapping[str, Any], profile: Profile) -> DistributionConfig:
    origins = {o.origin_id: o for o in (_origin(r, profile) for r in _items(raw.get("Origins")))}
    groups = {}
    for group in _items(raw.get("OriginGroups")):
        codes = frozenset(int(c) for c in _items(group.get("FailoverCriteria", {}).get("StatusCodes")))
        members = tuple(str(m["OriginId"]) for m in _items(group.get("Members")))
        groups[str(group["Id"])] = OriginGroup(str(group["Id"]), members, codes)
    behaviors = [_behavior(b, str(b["PathPattern"]), profile) for b in _items(raw.get("CacheBehaviors"))]
    behaviors.append(_behavior(raw["DefaultCacheBehavior"], "*", profile))
    default_error_ttl = scaled(profile, "cloudfront.error_caching_min_ttl", None)
    error_ttl = {int(e["ErrorCode"]): scaled(profile, "cloudfront.error_caching_min_ttl",
                                             _float(e.get("ErrorCachingMinTTL")))
                 for e in _items(raw.get("CustomErrorResponses")) if "ErrorCode" in e}
    for behavior in behaviors:
        if behavior.target not in origins and behavior.target not in groups:
            raise ValueError(f"distribution {distribution_id}: behavior {behavior.path_pattern} targets "
                             f"unknown origin {behavior.target!r}")
    return DistributionConfig(distribution_id, str(raw.get("_Arn", "")), origins, groups, tuple(behaviors),
                              str(raw.get("DefaultRootObject") or ""), error_ttl, default_error_ttl)
