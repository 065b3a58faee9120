"""The ECS scheduler: tasks follow the desired count, register with the target group when they run, and
leave it at once when scaled in (they stop serving only after the stop timeout)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from localcloud.ecs import Container, Reconciler
from localcloud.elb import HealthCheck, TargetGroup
from localcloud.net.pool import AddressPool

CHECK = HealthCheck(path="/health", interval_s=10.0, timeout_s=1.0, healthy_threshold=2, unhealthy_threshold=2)
REACTION_S, STOP_S = 0.05, 0.3


@dataclass
class FakeService:
    name: str = "web"
    desired_count: int = 2
    status: str = "ACTIVE"
    task_definition: str = "web:1"
    load_balancers: list[dict[str, Any]] = field(
        default_factory=lambda: [{"targetGroupArn": "tg", "containerName": "web", "containerPort": 8080}])
    running_count: int = 0
    pending_count: int = 0


async def _follow_desired_count(pool: AddressPool) -> dict[str, Any]:
    events: list[tuple[str, str]] = []
    group = TargetGroup("tg", CHECK, lambda *a, **k: None, lambda: None)
    reconciler = Reconciler(pool, {"tg": group}, lambda key: REACTION_S, lambda service: STOP_S,
                            lambda kind, subject, **detail: events.append((subject, detail["state"])),
                            dict, lambda service: Container("public.ecr.aws/nginx/nginx:stable"))
    service = FakeService()
    seen: dict[str, Any] = {}
    try:
        reconciler.tick({"c:web": service})
        seen["pending"] = service.pending_count
        await asyncio.sleep(REACTION_S * 4)
        reconciler.tick({"c:web": service})
        seen["running"], seen["registered"] = service.running_count, len(group.targets)
        service.desired_count = 0
        reconciler.tick({"c:web": service})
        await asyncio.sleep(REACTION_S * 4)
        reconciler.tick({"c:web": service})
        seen["registered_after_scale_in"] = len(group.targets)
        seen["deactivating"] = sum(1 for _, state in events if state == "DEACTIVATING")
        await asyncio.sleep(STOP_S * 2)
        reconciler.tick({"c:web": service})
        seen["stopped"] = sum(1 for _, state in events if state == "STOPPED")
        seen["running_after"] = service.running_count
        return seen
    finally:
        reconciler.close()
        group.close()


def test_tasks_follow_the_desired_count_through_the_target_group() -> None:
    pool = AddressPool()
    pool.claim()
    try:
        seen = asyncio.run(_follow_desired_count(pool))
    finally:
        pool.close()

    assert seen["pending"] == 2
    assert (seen["running"], seen["registered"]) == (2, 2)
    assert seen["registered_after_scale_in"] == 0 and seen["deactivating"] == 2
    assert seen["stopped"] == 2 and seen["running_after"] == 0
