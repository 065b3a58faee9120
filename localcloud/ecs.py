"""ECS's service scheduler for localcloud: tasks are HTTP servers on their own loopback addresses that
follow each service's desired count (moto only stores the count).

A missing task starts `ecs.scheduler_reaction` after the scheduler notices, serves the instance app
(`/` and `/health`, `X-Served-By: <task id>`) on its container port and is registered with the
service's target groups. A task that is no longer wanted is deregistered at once (DEACTIVATING: no new
requests) and stops serving after the stop timeout (the container's `stopTimeout`, else the profile's,
scaled like AWS's 30 s default: the worst case of a container that ignores SIGTERM).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.ec2.app import app_factory
from localcloud.net.hosts import Host
from localcloud.net.pool import AddressPool

if TYPE_CHECKING:
    from localcloud.elb.alb import TargetGroup

log = logging.getLogger(__name__)

TASK_EVENT = "localcloud.ecs.task"
Emit = Callable[..., object]


@dataclass
class Task:
    task_id: str
    service: str
    port: int
    state: str = "PROVISIONING"  # PROVISIONING | RUNNING | DEACTIVATING | STOPPED
    host: Host | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    groups: tuple[str, ...] = ()
    stop_after: float = 0.0
    leaving: bool = False  # the scheduler decided to stop it; it acts `ecs.scheduler_reaction` later


class Reconciler:
    """Loop thread only: `tick()` compares moto's services with the running tasks and acts."""

    def __init__(self, pool: AddressPool, groups: dict[str, TargetGroup], delay: Callable[[str], float],
                 stop_timeout: Callable[[Any], float], emit: Emit, moto_groups: Callable[[], dict[str, Any]]) -> None:
        self._pool = pool
        self._groups = groups
        self._delay = delay
        self._stop_timeout = stop_timeout
        self._emit = emit
        self._moto_groups = moto_groups
        self._tasks: dict[str, list[Task]] = {}
        self._ids = itertools.count(1)

    def tick(self, services: dict[str, Any]) -> None:
        wanted = {key: svc for key, svc in services.items() if getattr(svc, "status", "ACTIVE") == "ACTIVE"}
        for key in list(self._tasks):
            if key not in wanted:
                self._scale(key, None, 0)
        for key, service in wanted.items():
            self._scale(key, service, max(0, int(service.desired_count or 0)))

    def close(self) -> None:
        for tasks in self._tasks.values():
            for task in tasks:
                if task.timer is not None:
                    task.timer.cancel()
                if task.host is not None:
                    task.host.close()
        self._tasks.clear()

    def describe(self) -> dict[str, Any]:
        return {key: [{"id": t.task_id, "state": t.state, "address": t.host.address if t.host else None}
                      for t in tasks] for key, tasks in self._tasks.items()}

    # --- scaling ---

    def _scale(self, key: str, service: Any | None, desired: int) -> None:
        tasks = self._tasks.setdefault(key, [])
        live = [t for t in tasks if t.state in ("PROVISIONING", "RUNNING") and not t.leaving]
        if len(live) < desired and service is not None:
            for _ in range(desired - len(live)):
                tasks.append(self._provision(key, service))
        elif len(live) > desired:
            # Tasks still provisioning go first (cheapest), then the newest running ones.
            for task in sorted(live, key=lambda t: (t.state == "RUNNING", t.task_id))[:len(live) - desired]:
                if task.state == "PROVISIONING" or service is None:
                    self._stop(task)
                else:
                    task.leaving = True
                    asyncio.get_running_loop().call_later(self._delay("ecs.scheduler_reaction"), self._stop, task)
        tasks[:] = [t for t in tasks if t.state != "STOPPED"]
        if not tasks and service is None:
            del self._tasks[key]
        if service is not None:
            service.running_count = sum(1 for t in tasks if t.state == "RUNNING")
            service.pending_count = sum(1 for t in tasks if t.state == "PROVISIONING")

    def _provision(self, key: str, service: Any) -> Task:
        balancers = list(getattr(service, "load_balancers", []) or [])
        port = int(balancers[0].get("containerPort", 80)) if balancers else 80
        task = Task(f"{service.name}-{next(self._ids):03d}-{secrets.token_hex(3)}", key, port,
                    groups=tuple(str(b["targetGroupArn"]) for b in balancers if b.get("targetGroupArn")),
                    stop_after=self._stop_timeout(service))
        loop = asyncio.get_running_loop()
        task.timer = loop.call_later(self._delay("ecs.scheduler_reaction"), self._run, task)
        self._emit(TASK_EVENT, task.task_id, service=key, state="PROVISIONING")
        return task

    def _run(self, task: Task) -> None:
        if task.state != "PROVISIONING":
            return
        host = Host(asyncio.get_running_loop(), self._pool.allocate(f"task:{task.task_id}"), (task.port,))
        try:
            host.open()
        except Exception:
            log.exception("task %s gets no data plane", task.task_id)
            task.state = "STOPPED"
            return
        host.serve(task.port, app_factory(task.task_id))
        task.host, task.state, task.timer = host, "RUNNING", None
        self._emit(TASK_EVENT, task.task_id, service=task.service, state="RUNNING", address=host.address)
        for arn in task.groups:
            self._target(arn, host.address, task.port, register=True)

    def _stop(self, task: Task) -> None:
        if task.state in ("DEACTIVATING", "STOPPED"):
            return
        if task.timer is not None:
            task.timer.cancel()
            task.timer = None
        if task.host is None:
            task.state = "STOPPED"
            self._emit(TASK_EVENT, task.task_id, service=task.service, state="STOPPED")
            return
        for arn in task.groups:
            self._target(arn, task.host.address, task.port, register=False)
        task.state = "DEACTIVATING"
        self._emit(TASK_EVENT, task.task_id, service=task.service, state="DEACTIVATING", address=task.host.address)
        task.timer = asyncio.get_running_loop().call_later(task.stop_after, self._stopped, task)

    def _stopped(self, task: Task) -> None:
        if task.host is not None:
            task.host.close()
        task.state, task.timer = "STOPPED", None
        self._emit(TASK_EVENT, task.task_id, service=task.service, state="STOPPED")

    def _target(self, arn: str, address: str, port: int, *, register: bool) -> None:
        group = self._groups.get(arn)
        if group is not None:
            (group.register if register else group.deregister)(address, port)
        moto_group = self._moto_groups().get(arn)
        if moto_group is not None:  # describe_target_health lists what the scheduler registered
            if register:
                moto_group.register([{"Id": address, "Port": port}])
            else:
                moto_group.deregister([{"Id": address, "Port": port}])
