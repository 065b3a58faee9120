"""The two seams the DNS server reads through: health-check status and alias targets outside our zones.

Defaults: every health check is healthy (moto evaluates nothing) and no outside alias resolves.
`StaticHealth` and `AliasTable` are small thread-safe tables for tests and for localcloud parts that
learn addresses later (an ALB proxy, a CloudFront edge); a real health checker implements `HealthView`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from localcloud.route53.model import normalize_name

ALIAS_TTL = 60  # ELB/CloudFront/S3 alias answers carry 60 s (docs/aws-timings.md §3.5)


class HealthView(Protocol):
    def is_healthy(self, health_check_id: str) -> bool:
        """Route 53's aggregate verdict for one health check, as DNS answers should see it now."""
        ...


class AllHealthy:
    def is_healthy(self, health_check_id: str) -> bool:
        return True


class StaticHealth:
    """Health checks listed as unhealthy are unhealthy; every other id is healthy."""

    def __init__(self, unhealthy: Iterable[str] = ()) -> None:
        self._unhealthy = set(unhealthy)
        self._lock = threading.Lock()

    def set(self, health_check_id: str, healthy: bool) -> None:
        with self._lock:
            if healthy:
                self._unhealthy.discard(health_check_id)
            else:
                self._unhealthy.add(health_check_id)

    def is_healthy(self, health_check_id: str) -> bool:
        with self._lock:
            return health_check_id not in self._unhealthy


@dataclass(frozen=True)
class AliasAnswer:
    """What an alias target outside our zones resolves to, and whether it counts as healthy
    (for EvaluateTargetHealth: an ALB with no healthy target is unhealthy)."""

    values: tuple[str, ...]
    ttl: int = ALIAS_TTL
    healthy: bool = True


class AliasResolver(Protocol):
    def resolve(self, dns_name: str, rdtype: str) -> AliasAnswer | None:
        """Addresses for an outside alias target (`dns_name` normalised, e.g. `d1.cloudfront.net.`),
        or None if this resolver does not know the name (the alias then answers nothing and, with
        EvaluateTargetHealth, counts as unhealthy)."""
        ...


class NoOutsideAliases:
    def resolve(self, dns_name: str, rdtype: str) -> AliasAnswer | None:
        return None


class AliasTable:
    """A name -> answer table per record type. `dualstack.` prefixes (ELB) resolve as the bare name."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], AliasAnswer] = {}
        self._lock = threading.Lock()

    def set(self, dns_name: str, rdtype: str, values: Iterable[str], *, ttl: int = ALIAS_TTL,
            healthy: bool = True) -> None:
        with self._lock:
            self._answers[(_bare(dns_name), rdtype.upper())] = AliasAnswer(tuple(values), ttl, healthy)

    def remove(self, dns_name: str, rdtype: str | None = None) -> None:
        name = _bare(dns_name)
        with self._lock:
            for key in [k for k in self._answers if k[0] == name and rdtype in (None, k[1])]:
                del self._answers[key]

    def resolve(self, dns_name: str, rdtype: str) -> AliasAnswer | None:
        with self._lock:
            return self._answers.get((_bare(dns_name), rdtype.upper()))


def _bare(dns_name: str) -> str:
    name = normalize_name(dns_name)
    return name.removeprefix("dualstack.")
