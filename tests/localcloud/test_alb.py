"""The ALB's routing rules against real loopback targets: 503 with no targets, health by threshold,
fail-open when every target is unhealthy, deregistration takes a target out at once."""

from __future__ import annotations

import asyncio
from typing import Any

from localcloud.elb import HealthCheck, LoadBalancer, TargetGroup
from localcloud.net.async_http import AsyncHttpServer
from localcloud.net.http import Request, Response

CHECK = HealthCheck(path="/health", interval_s=0.05, timeout_s=0.5, healthy_threshold=2, unhealthy_threshold=2)


def target_app(name: str, healthy: bool) -> Any:
    async def handle(request: Request) -> Response:
        if request.path == "/health":
            return Response(200 if healthy else 500, b"")
        return Response(200, name.encode(), headers=(("X-Served-By", name),))
    return handle


def request() -> Request:
    return Request("GET", "/", {}, {"host": "alb"})


async def _scenario(healthy: bool) -> dict[str, Any]:
    events: list[tuple[str, dict[str, Any]]] = []
    group = TargetGroup("tg", CHECK, lambda kind, subject, **detail: events.append((subject, detail)), lambda: None)
    balancer = LoadBalancer("lb", "lb.elb.amazonaws.com", "127.0.0.1", {"tg": group})
    balancer.listeners[80] = "tg"
    server = AsyncHttpServer("127.0.0.1", 0, target_app("task-1", healthy))
    await server.start()
    try:
        empty = await balancer.handler(80)(request())
        group.register("127.0.0.1", server.port)
        for _ in range(100):  # bounded: ~5 s at most
            if any(d.get("action") == "health" for _, d in events):
                break
            await asyncio.sleep(0.05)
        served = await balancer.handler(80)(request())
        result = {"empty": empty.status, "served": served.status, "body": served.body,
                  "healthy": balancer.healthy, "state": next(iter(group.targets.values())).state}
        group.deregister("127.0.0.1", server.port)
        result["after_deregister"] = (await balancer.handler(80)(request())).status
        result["healthy_after"] = balancer.healthy
        return result
    finally:
        group.close()
        server.close()


def test_no_registered_target_is_503_and_a_healthy_target_serves() -> None:
    result = asyncio.run(_scenario(healthy=True))

    assert result["empty"] == 503
    assert result["state"] == "healthy" and result["healthy"] is True
    assert (result["served"], result["body"]) == (200, b"task-1")
    assert result["after_deregister"] == 503 and result["healthy_after"] is False


def test_every_target_unhealthy_fails_open() -> None:
    result = asyncio.run(_scenario(healthy=False))

    assert result["state"] == "unhealthy" and result["healthy"] is False  # evaluate-target-health: unhealthy
    assert result["served"] == 200  # but requests still go to the registered target
