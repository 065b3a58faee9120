"""ECS's service scheduler for localcloud: tasks are HTTP servers on their own loopback addresses that
follow each service's desired count (moto only stores the count).

A task serves only what its image serves. localcloud runs no containers, so it knows a few images by
what they answer (`IMAGES`): the nginx image, with no command or entry point override, answers `/` with
its welcome page and every other path with its 404 page, `Server: nginx/<version>`, as stock nginx does.
A task whose image (or override) localcloud does not know never pretends to be the service: it stops
before it runs, with a stopped reason naming the image and what localcloud can run (the event
`localcloud.ecs.task`, state STOPPED, `stopped_reason`), as a task that never became healthy on AWS; the
scheduler starts another after a back-off that doubles with each such stop (ECS throttles a service whose
tasks keep failing to start). On AWS a task is told apart by its own address, and so it is here: the
probe's peer, or the target the load balancer picked.

A missing task starts `ecs.scheduler_reaction` after the scheduler notices, serves on its container port
and is registered with the service's target groups. A task that is no longer wanted is deregistered at
once (DEACTIVATING: no new requests) and stops serving after the stop timeout (the container's
`stopTimeout`, else the profile's, scaled like AWS's 30 s default: the worst case of a container that
ignores SIGTERM).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.net.hosts import Host
from localcloud.net.http import Handler, HttpServerProtocol, Request, Response
from localcloud.net.listener import ProtocolFactory
from localcloud.net.pool import AddressPool

if TYPE_CHECKING:
    from localcloud.elb.alb import TargetGroup

log = logging.getLogger(__name__)

TASK_EVENT = "localcloud.ecs.task"
Emit = Callable[..., object]
MAX_BACKOFF_DOUBLINGS = 6  # a service whose tasks keep stopping retries at most 64 reactions apart

# The nginx image by any of its names, any tag; the version its `Server` header names per moving tag
NGINX_REPOSITORIES = ("nginx", "library/nginx", "docker.io/nginx", "docker.io/library/nginx",
                      "public.ecr.aws/nginx/nginx", "public.ecr.aws/docker/library/nginx")
NGINX_CHANNELS = {"stable": "1.28.0", "mainline": "1.29.0", "latest": "1.29.0"}
NGINX_WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""


@dataclass(frozen=True)
class Container:
    """What a task runs: its task definition's first container image, and whether the definition overrides
    the image's own command (`command` or `entryPoint`): then the image no longer serves what it serves."""

    image: str
    overridden: bool = False


def _repository_and_tag(image: str) -> tuple[str, str]:
    name = image.split("@", 1)[0]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    return repository.lower(), tag or "latest"


def nginx_version(tag: str) -> str:
    """The version stock nginx names for an image tag: `1.27.3-alpine` -> 1.27.3, `stable-alpine` -> the channel's."""
    base = tag.split("-", 1)[0]
    if base and base[0].isdigit():
        return base
    return NGINX_CHANNELS.get(base, NGINX_CHANNELS["latest"])


def nginx_handler(version: str) -> Handler:
    """Stock nginx's default site: the welcome page at `/` (and `/index.html`), its 404 page elsewhere,
    its 405 page for a method other than GET and HEAD on a static file."""
    server = (("Server", f"nginx/{version}"),)

    def page(status: int, title: str) -> Response:
        body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                f"<hr><center>nginx/{version}</center>\r\n</body>\r\n</html>\r\n")
        return Response(status, body.encode(), content_type="text/html", headers=server)

    welcome = Response(200, NGINX_WELCOME.encode(), content_type="text/html", headers=server)
    not_found, not_allowed = page(404, "404 Not Found"), page(405, "405 Not Allowed")

    def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return not_allowed
        return welcome if request.path in ("/", "/index.html") else not_found

    return handle


def image_handler(container: Container) -> Handler | None:
    """What the task's container answers on HTTP, for the images localcloud knows; None for any other."""
    repository, tag = _repository_and_tag(container.image)
    if repository in NGINX_REPOSITORIES and not container.overridden:
        return nginx_handler(nginx_version(tag))
    return None


def unknown_image_reason(container: Container) -> str:
    override = " with a command override" if container.overridden else ""
    return (f"localcloud does not know what image {container.image}{override} serves; it runs: nginx "
            f"({', '.join(NGINX_REPOSITORIES)}; any tag, no command override)")


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
    container: Container = Container("")


class Reconciler:
    """Loop thread only: `tick()` compares moto's services with the running tasks and acts."""

    def __init__(self, pool: AddressPool, groups: dict[str, TargetGroup], delay: Callable[[str], float],
                 stop_timeout: Callable[[Any], float], emit: Emit, moto_groups: Callable[[], dict[str, Any]],
                 container: Callable[[Any], Container]) -> None:
        self._pool = pool
        self._container = container
        self._failed_starts: dict[str, int] = {}  # per service: tasks in a row that stopped before running
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
                    stop_after=self._stop_timeout(service), container=self._container(service))
        backoff = 2 ** min(self._failed_starts.get(key, 0), MAX_BACKOFF_DOUBLINGS)
        loop = asyncio.get_running_loop()
        task.timer = loop.call_later(self._delay("ecs.scheduler_reaction") * backoff, self._run, task)
        self._emit(TASK_EVENT, task.task_id, service=key, state="PROVISIONING")
        return task

    def _run(self, task: Task) -> None:
        if task.state != "PROVISIONING":
            return
        handler = image_handler(task.container)
        if handler is None:
            self._failed_starts[task.service] = self._failed_starts.get(task.service, 0) + 1
            task.state, task.timer = "STOPPED", None
            self._emit(TASK_EVENT, task.task_id, service=task.service, state="STOPPED", image=task.container.image,
                       stopped_reason=unknown_image_reason(task.container))
            return
        self._failed_starts.pop(task.service, None)
        host = Host(asyncio.get_running_loop(), self._pool.allocate(f"task:{task.task_id}"), (task.port,))
        try:
            host.open()
        except Exception:
            log.exception("task %s gets no data plane", task.task_id)
            task.state = "STOPPED"
            return
        host.serve(task.port, _factory(handler))
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


def _factory(handler: Handler) -> ProtocolFactory:
    return lambda: HttpServerProtocol(handler)
