"""Load balancers and ECS tasks as a LocalCloud service: every `POLL_S` the data-plane loop reads moto's
ELBv2 and ECS state and makes it real (listeners, target groups with health checks, tasks following the
desired count). A load balancer's DNS name resolves through the cloud's DNS to its loopback address; its
health (for evaluate-target-health) follows its target groups `alb.health_to_route53` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import TYPE_CHECKING, Any

from localcloud.cfn.ecs_elb import service_load_balancers_patch
from localcloud.ecs import Container, Reconciler
from localcloud.elb.alb import HealthCheck, LoadBalancer, TargetGroup, cancel_checks
from localcloud.elb.tls import server_context
from localcloud.net.async_http import AsyncHttpServer
from localcloud.timescale import factor, scaled

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger(__name__)

POLL_S = 0.25
HEALTH_EVENT = "localcloud.alb.health"


class ContainerService:
    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._patches = service_load_balancers_patch()
        self._groups: dict[str, TargetGroup] = {}
        self._balancers: dict[str, tuple[LoadBalancer, dict[int, AsyncHttpServer]]] = {}
        self._published: dict[str, bool] = {}
        self._tls: ssl.SSLContext | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._reconciler: Reconciler | None = None

    # --- Service ---

    def start(self) -> None:
        self._patches.install()
        self._tls = server_context(self._cloud.workdir)
        self._reconciler = Reconciler(self._cloud.pool, self._groups, self._delay, self._stop_timeout,
                                      self._cloud.events.emit, lambda: self._elbv2().target_groups,
                                      self._container)
        self._cloud.loop.call(self._start_ticker)

    def stop(self) -> None:
        try:
            self._cloud.loop.run(self._close())
        finally:
            self._patches.uninstall()

    def describe(self) -> dict[str, Any]:
        return {"load_balancers": {lb.dns_name: lb.address for lb, _ in self._balancers.values()}}

    # --- loop thread ---

    def _start_ticker(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="localcloud-ecs-elb")

    async def _tick(self) -> None:
        while True:
            try:
                await self._sync()
            except Exception:
                log.exception("ecs/elb sync failed")
            await asyncio.sleep(POLL_S)

    async def _sync(self) -> None:
        backend = self._elbv2()
        for arn, group in list(backend.target_groups.items()):
            if arn not in self._groups:
                self._groups[arn] = TargetGroup(arn, self._check_of(group), self._cloud.events.emit, self._changed)
        for arn in [a for a in self._groups if a not in backend.target_groups]:
            await cancel_checks([self._groups.pop(arn)])
        for arn, moto_lb in list(backend.load_balancers.items()):
            await self._sync_balancer(arn, moto_lb)
        for arn in [a for a in self._balancers if a not in backend.load_balancers]:
            self._drop_balancer(arn)
        assert self._reconciler is not None
        from moto.ecs.models import ecs_backends

        from localcloud.cloud import ACCOUNT_ID

        self._reconciler.tick(dict(ecs_backends[ACCOUNT_ID][self._cloud.region].services))
        self._changed()

    async def _sync_balancer(self, arn: str, moto_lb: Any) -> None:
        if arn not in self._balancers:
            address = self._cloud.pool.allocate(f"alb:{moto_lb.name}")
            self._balancers[arn] = (LoadBalancer(arn, str(moto_lb.dns_name), address, self._groups), {})
            self._publish(arn, False)
        balancer, servers = self._balancers[arn]
        for listener in list(moto_lb.listeners.values()):
            port = int(listener.port)
            forward = [a for a in listener.default_actions if str(getattr(a, "type", "")).lower() == "forward"]
            target = str(getattr(forward[0], "TargetGroupArn", "") or forward[0].data.get("TargetGroupArn", "")) \
                if forward else ""
            balancer.listeners[port] = target
            if port not in servers:
                tls = self._tls if listener.protocol == "HTTPS" else None
                server = AsyncHttpServer(balancer.address, port, balancer.handler(port), tls=tls)
                await server.start()
                servers[port] = server

    def _drop_balancer(self, arn: str) -> None:
        balancer, servers = self._balancers.pop(arn)
        for server in servers.values():
            server.close()
        self._published.pop(arn, None)
        self._cloud.aliases.remove(balancer.dns_name)

    def _changed(self) -> None:
        """Publish each load balancer's health to DNS, `alb.health_to_route53` after it changes."""
        for arn, (balancer, _) in self._balancers.items():
            healthy = balancer.healthy
            if self._published.get(arn) != healthy:
                self._published[arn] = healthy
                asyncio.get_running_loop().call_later(self._delay("alb.health_to_route53"), self._publish, arn, healthy)

    def _publish(self, arn: str, healthy: bool) -> None:
        found = self._balancers.get(arn)
        if found is None or self._published.get(arn, healthy) != healthy:
            return  # gone, or changed again meanwhile: the later call publishes
        balancer = found[0]
        ttl = max(1, round(scaled(self._cloud.profile, "route53.record_ttl", 60.0)))
        self._cloud.aliases.set(balancer.dns_name, "A", [balancer.address], ttl=ttl, healthy=healthy)
        self._cloud.events.emit(HEALTH_EVENT, balancer.dns_name, load_balancer=arn, healthy=healthy)

    async def _close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._reconciler is not None:
            self._reconciler.close()
        for arn in list(self._balancers):
            self._drop_balancer(arn)
        await cancel_checks(list(self._groups.values()))
        self._groups.clear()

    # --- numbers ---

    def _elbv2(self) -> Any:
        from moto.elbv2.models import elbv2_backends

        from localcloud.cloud import ACCOUNT_ID

        return elbv2_backends[ACCOUNT_ID][self._cloud.region]

    def _delay(self, key: str) -> float:
        return self._cloud.profile.delay(key).sample(self._cloud.rng)

    def _check_of(self, group: Any) -> HealthCheck:
        scale = factor(self._cloud.profile, "alb.hc_interval")
        return HealthCheck(path=str(group.health_check_path or "/"),
                           interval_s=float(group.health_check_interval_seconds) * scale,
                           timeout_s=float(group.health_check_timeout_seconds) * scale,
                           healthy_threshold=int(group.healthy_threshold_count),
                           unhealthy_threshold=int(group.unhealthy_threshold_count))

    def _first_container(self, service: Any) -> dict[str, Any]:
        """The service's task definition's first container, as registered ({} when there is none)."""
        from moto.ecs.models import ecs_backends

        from localcloud.cloud import ACCOUNT_ID

        backend = ecs_backends[ACCOUNT_ID][self._cloud.region]
        with contextlib.suppress(Exception):
            return dict(backend.describe_task_definition(service.task_definition).container_definitions[0])
        return {}

    def _stop_timeout(self, service: Any) -> float:
        seconds = self._first_container(service).get("stopTimeout")
        return scaled(self._cloud.profile, "ecs.stop_timeout", float(seconds) if seconds else None)

    def _container(self, service: Any) -> Container:
        first = self._first_container(service)
        return Container(str(first.get("image", "")), overridden=bool(first.get("command") or first.get("entryPoint")))
