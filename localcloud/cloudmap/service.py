"""Cloud Map's DNS side, which moto lacks: a private DNS namespace owns a private hosted zone for its name
and VPC, and registering, deregistering or a custom health change rewrites the service's record sets
there (records.py), through Route 53's change propagation like any other zone change.

moto's ServiceDiscoveryBackend is patched while the cloud runs (so the API and CloudFormation both go
through it): create_private_dns_namespace gets the zone right (moto names it `<name>-hz`, public to every
VPC); delete_namespace refuses while services exist and deletes the zone; delete_service refuses while
instances are registered; register_instance replaces an instance with the same id (moto appends a
second); update_instance_custom_health_status takes effect after `cloud_map.custom_health_delay`.
A new namespace's VPC gets a listener on the authoritative server (named in the namespace event), as
every VPC on AWS has its resolver.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from localcloud.cloudmap.records import Registration, record_name, record_sets, record_types, values_by_type
from localcloud.patching import Patches
from localcloud.route53.model import normalize_name, zone_id_of

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.route53.propagation import Propagation

log = logging.getLogger(__name__)

REGISTER_EVENT = "localcloud.cloudmap.register"
DEREGISTER_EVENT = "localcloud.cloudmap.deregister"
HEALTH_EVENT = "localcloud.cloudmap.health"
DNS_EVENT = "localcloud.cloudmap.dns"
NAMESPACE_EVENT = "localcloud.cloudmap.namespace"
HEALTH_DELAY = "cloud_map.custom_health_delay"


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


class CloudMapService:
    """Started after the authoritative DNS server (it writes through that server's propagation)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._patches = Patches("localcloud.cloudmap")
        self._lock = threading.RLock()
        self._answers: dict[tuple[str, str], dict[str, list[str]]] = {}  # (zone, name) -> last values by type
        # (service, instance) -> (status waiting for the delay, the timer's token: a re-registration drops it)
        self._health: dict[tuple[str, str], tuple[str, object]] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    # --- Service ---

    def start(self) -> None:
        from moto.servicediscovery.models import ServiceDiscoveryBackend

        from localcloud.cfn import resources, servicediscovery

        wrappers: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
            "create_private_dns_namespace": self._wrap_create_namespace,
            "delete_namespace": self._wrap_delete_namespace,
            "delete_service": self._wrap_delete_service,
            "register_instance": self._wrap_register,
            "deregister_instance": self._wrap_deregister,
            "update_instance_custom_health_status": self._wrap_custom_health,
        }
        for name, wrap in wrappers.items():
            original = getattr(ServiceDiscoveryBackend, name)
            self._patches.add(ServiceDiscoveryBackend, name, functools.wraps(original)(wrap(original)))
        self._patches.install()
        assert servicediscovery.Service.cloudformation_type()  # imported: moto's template engine lists it now
        resources.register()

    def stop(self) -> None:
        self._patches.uninstall()
        self._cloud.loop.call_soon(self._cancel_timers)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"names": {f"{name} ({zone})": values for (zone, name), values in self._answers.items()},
                    "health_pending": len(self._health)}

    # --- the patched backend methods (moto request threads) ---

    def _wrap_create_namespace(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def create_private_dns_namespace(backend: Any, name: str, creator_request_id: str, description: str,
                                         vpc: str, tags: list[dict[str, str]], properties: dict[str, Any]) -> str:
            with self._lock, self._applying() as submission:
                operation_id = original(backend, name, creator_request_id, description, vpc, tags, properties)
                namespace = backend.namespaces[backend.operations[operation_id].targets["NAMESPACE"]]
                zone = _replace_zone(backend, namespace, name, vpc, properties)
                if submission is not None:
                    submission.zone_id = zone_id_of(str(zone.id))
            listener = self._vpc_listener(vpc)
            self._cloud.events.emit(NAMESPACE_EVENT, namespace.id, action="CREATE", namespace=name, vpc=vpc,
                                    zone_id=zone_id_of(str(zone.id)), listener=listener,
                                    visible_at=getattr(submission, "visible_at", None))
            return str(operation_id)

        return create_private_dns_namespace

    def _wrap_delete_namespace(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_namespace(backend: Any, namespace_id: str) -> str:
            namespace = backend.get_namespace(namespace_id)
            if any(s.namespace_id == namespace_id for s in backend.services.values()):
                raise _error("ResourceInUse", f"namespace {namespace_id} still has services")
            zone_id = (namespace.dns_properties or {}).get("HostedZoneId")
            with self._lock, self._applying(zone_id) as _:
                operation_id = original(backend, namespace_id)
                if zone_id:
                    _route53(backend).zones.pop(zone_id_of(str(zone_id)), None)
                    self._answers = {k: v for k, v in self._answers.items() if k[0] != zone_id_of(str(zone_id))}
            self._cloud.events.emit(NAMESPACE_EVENT, namespace_id, action="DELETE", namespace=namespace.name,
                                    vpc=namespace.vpc, zone_id=zone_id)
            return str(operation_id)

        return delete_namespace

    def _wrap_delete_service(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def delete_service(backend: Any, service_id: str) -> None:
            service = backend.get_service(service_id)
            if service.instances:
                raise _error("ResourceInUse", f"service {service_id} still has registered instances")
            original(backend, service_id)

        return delete_service

    def _wrap_register(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def register_instance(backend: Any, service_id: str, instance_id: str, creator_request_id: str,
                              attributes: dict[str, str]) -> str:
            service = backend.get_service(service_id)
            with self._lock:
                service.instances[:] = [i for i in service.instances if i.instance_id != instance_id]
                operation_id = original(backend, service_id, instance_id, creator_request_id, attributes)
                self._health.pop((service_id, instance_id), None)
                change = self._sync(backend, service)
            registration = Registration(instance_id, dict(attributes or {}))
            self._emit(REGISTER_EVENT, instance_id, backend, service, addresses=registration.addresses(),
                       operation_id=operation_id, **change)
            return str(operation_id)

        return register_instance

    def _wrap_deregister(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def deregister_instance(backend: Any, service_id: str, instance_id: str) -> str:
            service = backend.get_service(service_id)
            with self._lock:
                gone = next((i for i in service.instances if i.instance_id == instance_id), None)
                operation_id = original(backend, service_id, instance_id)
                self._health.pop((service_id, instance_id), None)
                change = self._sync(backend, service)
            addresses = Registration(instance_id, dict(gone.attributes)).addresses() if gone else {}
            self._emit(DEREGISTER_EVENT, instance_id, backend, service, addresses=addresses,
                       operation_id=operation_id, **change)
            return str(operation_id)

        return deregister_instance

    def _wrap_custom_health(self, original: Callable[..., Any]) -> Callable[..., Any]:
        # moto's own method sets the status at once; AWS waits, so it is never called.
        def update_instance_custom_health_status(backend: Any, service_id: str, instance_id: str,
                                                 status: str) -> None:
            from moto.servicediscovery.exceptions import CustomHealthNotFound

            service = backend.get_service(service_id)
            if status not in ("HEALTHY", "UNHEALTHY") or not service.health_check_custom_config:
                raise CustomHealthNotFound(service_id)
            backend.get_instance(service_id, instance_id)  # InstanceNotFound as moto says it
            key = (service_id, instance_id)
            with self._lock:
                waiting = self._health.get(key)
                token = waiting[1] if waiting else object()
                self._health[key] = (status, token)  # a repeat within the delay changes the target, not the deadline
            if waiting is None:
                delay = self._cloud.profile.delay(HEALTH_DELAY).sample(self._cloud.rng)
                self._later(delay, self._apply_health, backend, service_id, instance_id, token, time.time())

        return update_instance_custom_health_status

    # --- the data-plane loop ---

    def _apply_health(self, backend: Any, service_id: str, instance_id: str, token: object,
                      requested_at: float) -> None:
        with self._lock:
            waiting = self._health.get((service_id, instance_id))
            if waiting is None or waiting[1] is not token:
                return
            status = self._health.pop((service_id, instance_id))[0]
            service = backend.services.get(service_id)
            instance = next((i for i in service.instances if i.instance_id == instance_id), None) if service else None
            if instance is None or instance.health_status == status:
                return
            instance.health_status = status
            change = self._sync(backend, service)
        self._emit(HEALTH_EVENT, instance_id, backend, service, status=status, requested_at=requested_at,
                   addresses=Registration(instance_id, dict(instance.attributes)).addresses(), **change)

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        def schedule() -> None:
            def fire() -> None:
                self._timers.discard(handle)
                try:
                    fn(*args)
                except Exception:
                    log.exception("cloud map: %s failed", getattr(fn, "__name__", fn))
            handle = self._cloud.loop.loop.call_later(delay, fire)
            self._timers.add(handle)
        self._cloud.loop.call_soon(schedule)

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    # --- records ---

    def _sync(self, backend: Any, service: Any) -> dict[str, Any]:
        """Rewrite the service's record sets in its namespace's zone; what changed, for the events."""
        namespace = backend.namespaces.get(service.namespace_id)
        zone_id = (namespace.dns_properties or {}).get("HostedZoneId") if namespace is not None else None
        zone = _route53(backend).zones.get(zone_id_of(str(zone_id))) if zone_id else None
        types = record_types(service.dns_config)
        if zone is None or not types:
            return {}
        from moto.route53.models import RecordSet

        name = record_name(service.name, namespace.name)
        wanted = record_sets(name, service.dns_config,
                             [Registration(i.instance_id, dict(i.attributes), i.health_status != "UNHEALTHY")
                              for i in service.instances])
        with self._applying(zone_id) as submission:
            zone.rrsets = [r for r in zone.rrsets if not (normalize_name(str(r.name)) == name and r.type in types)]
            zone.rrsets.extend(RecordSet(record) for record in wanted)
        values = {rtype: values_by_type(wanted).get(rtype, []) for rtype in types}
        detail: dict[str, Any] = {"name": name, "values": values}
        if submission is not None and submission.change_id:
            detail.update(change_id=submission.change_id, visible_at=submission.visible_at)
        key = (zone_id_of(str(zone_id)), name)
        if self._answers.get(key) != values:
            self._answers[key] = values
            delay = max(0.0, detail.get("visible_at", time.time()) - time.time())
            self._later(delay, self._emit_dns, backend, service, dict(detail))
        return detail

    def _emit_dns(self, backend: Any, service: Any, detail: dict[str, Any]) -> None:
        self._emit(DNS_EVENT, detail["name"], backend, service, **detail)

    @contextlib.contextmanager
    def _applying(self, zone_id: str | None = None) -> Iterator[Any]:
        """Route 53's change propagation around a direct write to moto's zones (None: no DNS server runs)."""
        propagation = self._propagation()
        if propagation is None:
            yield None
            return
        with propagation.applying(zone_id_of(str(zone_id)) if zone_id else None) as submission:
            yield submission

    def _vpc_listener(self, vpc_id: str) -> list[Any] | None:
        """The authoritative server's listener for clients in `vpc_id` (opened now if it has none yet),
        where the namespace's private zone is answered; None without a DNS server."""
        try:
            server = self._cloud.service("authoritative")
        except KeyError:
            return None
        add = getattr(server, "add_vpc_listener", None)
        return None if add is None else list(add(vpc_id))

    def _propagation(self) -> Propagation | None:
        try:
            server = self._cloud.service("authoritative")
        except KeyError:
            return None
        return getattr(server, "propagation", None)

    def _emit(self, kind: str, subject: str, backend: Any, service: Any, **detail: Any) -> None:
        namespace = backend.namespaces.get(service.namespace_id)
        self._cloud.events.emit(kind, subject, service_id=service.id, service=service.name,
                                namespace_id=service.namespace_id,
                                namespace=namespace.name if namespace is not None else None, **detail)



def _route53(backend: Any) -> Any:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    return route53_backends[backend.account_id][get_partition(backend.region_name)]


def _replace_zone(backend: Any, namespace: Any, name: str, vpc: str, properties: dict[str, Any] | None) -> Any:
    """The hosted zone AWS makes for a private DNS namespace, in place of moto's `<name>-hz` one."""
    route53 = _route53(backend)
    moto_zone = namespace.dns_properties.get("HostedZoneId")
    if moto_zone:
        route53.zones.pop(zone_id_of(str(moto_zone)), None)
    zone = route53.create_hosted_zone(name.rstrip(".") + ".", private_zone=True, vpcid=vpc,
                                      vpcregion=backend.region_name,
                                      comment=f"Created by AWS Cloud Map namespace with ARN {namespace.arn}")
    soa_ttl = ((properties or {}).get("DnsProperties") or {}).get("SOA", {}).get("TTL")
    if soa_ttl is not None:
        for record in zone.rrsets:
            if record.type == "SOA":
                record.ttl = int(soa_ttl)
    namespace.dns_properties["HostedZoneId"] = zone_id_of(str(zone.id))
    return zone
