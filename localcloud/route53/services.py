"""The cloud's DNS: Route 53's health checkers, the authoritative server for every hosted zone (routing by
the checkers' verdicts) and a caching resolver (unbound) in front of it, whose stub zones follow the
hosted zones as they are created and deleted.

Zone changes reach unbound through `unbound-control`, a child process per call, so they run on a
worker thread of their own and never on the DNS server's event loop.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from typing import TYPE_CHECKING, Any

from localcloud.resolver import CachingResolver
from localcloud.route53.dns import AuthoritativeDNS
from localcloud.route53.health import HealthCheckers
from localcloud.route53.health_moto import StatusHook, resolver_for

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud, ServiceSpec

log = logging.getLogger(__name__)

ZONE_EVENT = "localcloud.route53.zone"
DNS_PORT = 53


class CloudDns:
    """Builds both services and relays zone events from the first to the second."""

    def __init__(self) -> None:
        self._zones: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._cloud: LocalCloud | None = None
        self._dns: AuthoritativeDNS | None = None
        self._health: HealthCheckersService | None = None

    def specs(self) -> list[ServiceSpec]:
        from localcloud.cloud import ServiceSpec

        return [ServiceSpec("route53-health", self.health),
                ServiceSpec("authoritative", self.authoritative, resolver_kind="authoritative"),
                ServiceSpec("caching", self.caching, resolver_kind="caching")]

    def health(self, cloud: LocalCloud) -> HealthCheckersService:
        """Route 53's health checkers; the authoritative server (started next) routes by their verdicts."""
        self._cloud = cloud
        checkers = HealthCheckers(cloud.profile, rng=random.Random(cloud.rng.random()), on_event=self._on_event,
                                  resolve=resolver_for(lambda: self._dns, getattr(cloud, "aliases", None)))
        self._health = HealthCheckersService(checkers)
        return self._health

    def authoritative(self, cloud: LocalCloud) -> AuthoritativeDNS:
        self._cloud = cloud
        self._dns = AuthoritativeDNS.for_profile(
            cloud.profile, host=cloud.pool.allocate_service("dns"), port=DNS_PORT, on_event=self._on_event,
            rng=random.Random(cloud.rng.random()), aliases=cloud.aliases,
            health=self._health.checkers if self._health is not None else None)
        return self._dns

    def caching(self, cloud: LocalCloud) -> CachingResolverService:
        if self._dns is None:
            raise RuntimeError("the caching resolver starts after the authoritative server")
        return CachingResolverService(self._dns, cloud.pool.allocate_service("resolver"), self._zones)

    def _on_event(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        if self._cloud is not None:
            self._cloud.events.record(kind, subject, detail)
        if kind == ZONE_EVENT and not detail.get("private"):
            self._zones.put((str(detail.get("action", "")), str(detail.get("zone", subject))))


class HealthCheckersService:
    """The checkers plus moto's GetHealthCheckStatus answering with their observations."""

    def __init__(self, checkers: HealthCheckers) -> None:
        self.checkers = checkers
        self._hook = StatusHook(checkers)

    def start(self) -> None:
        self._hook.install()
        try:
            self.checkers.start()
        except BaseException:
            self._hook.uninstall()
            raise

    def stop(self) -> None:
        try:
            self.checkers.stop()
        finally:
            self._hook.uninstall()

    def describe(self) -> dict[str, Any]:
        return self.checkers.describe()


class CachingResolverService:
    """unbound in front of the authoritative server; a worker applies zone creations and deletions."""

    def __init__(self, dns: AuthoritativeDNS, host: str, zones: queue.Queue[tuple[str, str] | None]) -> None:
        self._dns = dns
        self._zones = zones
        self._resolver = CachingResolver(host=host, port=DNS_PORT, fallback=dns.address)
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        self._resolver.start()
        self._worker = threading.Thread(target=self._follow_zones, name="localcloud-resolver-zones", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._zones.put(None)
            self._worker.join(timeout=15)
            self._worker = None
        self._resolver.stop()

    def describe(self) -> dict[str, Any]:
        return self._resolver.describe()

    def _follow_zones(self) -> None:
        while (item := self._zones.get()) is not None:
            action, zone = item
            try:
                if action == "CREATE":
                    self._resolver.add_zone(zone, self._dns.address)
                elif action == "DELETE":
                    self._resolver.remove_zone(zone)
            except Exception:  # one bad zone must not stop the resolver following the others
                log.exception("caching resolver could not %s zone %s", action.lower(), zone)


def dns_services() -> list[ServiceSpec]:
    return CloudDns().specs()
