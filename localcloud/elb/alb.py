"""An Application Load Balancer on the data plane: listeners on its own loopback address, target groups
with real health checks, and the load balancer's health as Route 53's evaluate-target-health sees it.

Routing (docs/aws-timings.md §10.2, §10.3): healthy targets round robin; no registered target -> 503; every target
unhealthy -> fail open (all registered targets). A deregistered target gets no new requests at once (its
deregistration completes immediately when idle). A target starts `initial` and turns healthy after
HealthyThresholdCount passing checks, unhealthy after UnhealthyThresholdCount failing ones; checks run
every HealthCheckIntervalSeconds (scaled by the profile like AWS's 30 s default).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from localcloud.net.async_http import UpstreamError, fetch
from localcloud.net.http import Request, Response, text

log = logging.getLogger(__name__)

TARGET_EVENT = "localcloud.alb.target"
Emit = Callable[..., object]


@dataclass(frozen=True)
class HealthCheck:
    path: str
    interval_s: float
    timeout_s: float
    healthy_threshold: int
    unhealthy_threshold: int


@dataclass
class Target:
    address: str
    port: int
    state: str = "initial"  # initial | healthy | unhealthy
    passes: int = 0
    failures: int = 0
    checker: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        return self.address, self.port


class TargetGroup:
    """Loop thread only. `on_change` is called whenever the group's health may have changed."""

    def __init__(self, arn: str, check: HealthCheck, emit: Emit, on_change: Callable[[], None]) -> None:
        self.arn = arn
        self.check = check
        self._emit = emit
        self._on_change = on_change
        self.targets: dict[tuple[str, int], Target] = {}
        self._turn = itertools.count()

    def register(self, address: str, port: int) -> None:
        if (address, port) in self.targets:
            return
        target = Target(address, port)
        target.checker = asyncio.get_running_loop().create_task(self._checks(target))
        self.targets[target.key] = target
        self._emit(TARGET_EVENT, f"{address}:{port}", target_group=self.arn, state="initial", action="register")
        self._on_change()

    def deregister(self, address: str, port: int) -> None:
        target = self.targets.pop((address, port), None)
        if target is None:
            return
        if target.checker is not None:
            target.checker.cancel()
        self._emit(TARGET_EVENT, f"{address}:{port}", target_group=self.arn, state="unused", action="deregister")
        self._on_change()

    def close(self) -> None:
        for target in self.targets.values():
            if target.checker is not None:
                target.checker.cancel()
        self.targets.clear()

    def pick(self) -> Target | None:
        """The next target to send a request to, or None when nothing is registered."""
        registered = list(self.targets.values())
        healthy = [t for t in registered if t.state == "healthy"]
        pool = healthy or registered  # every target unhealthy (or initial): fail open
        return pool[next(self._turn) % len(pool)] if pool else None

    @property
    def healthy(self) -> bool:
        """Evaluate-target-health: a group with no registered target is unhealthy (docs/aws-timings.md §3.4)."""
        return any(t.state == "healthy" for t in self.targets.values())

    async def _checks(self, target: Target) -> None:
        check = self.check
        loop = asyncio.get_running_loop()
        due = loop.time() + check.interval_s
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            sent = loop.time()
            try:
                answer = await fetch(target.address, target.port, "GET", check.path, {"Host": target.address,
                                     "User-Agent": "ELB-HealthChecker/2.0"},
                                     connect_timeout_s=check.timeout_s, read_timeout_s=check.timeout_s)
                ok = 200 <= answer.status < 300
            except UpstreamError:
                ok = False
            self._record(target, ok)
            # The next check an interval after this one ended, counted from when this one was due: a check our
            # busy process woke late does not push every later one back (one missed is not made up for).
            due = max(due + (loop.time() - sent) + check.interval_s, loop.time())

    def _record(self, target: Target, ok: bool) -> None:
        target.passes, target.failures = (target.passes + 1, 0) if ok else (0, target.failures + 1)
        new = target.state
        if ok and target.state != "healthy" and target.passes >= self.check.healthy_threshold:
            new = "healthy"
        elif not ok and target.state != "unhealthy" and target.failures >= self.check.unhealthy_threshold:
            new = "unhealthy"
        if new != target.state:
            target.state = new
            self._emit(TARGET_EVENT, f"{target.address}:{target.port}", target_group=self.arn, state=new,
                       action="health")
            self._on_change()


class LoadBalancer:
    """Listeners forward to target groups (looked up by ARN at request time)."""

    def __init__(self, arn: str, dns_name: str, address: str, groups: dict[str, TargetGroup]) -> None:
        self.arn = arn
        self.dns_name = dns_name
        self.address = address
        self._groups = groups
        self.listeners: dict[int, str] = {}  # port -> target group ARN of the default forward action

    def group_arns(self) -> set[str]:
        return set(self.listeners.values())

    @property
    def healthy(self) -> bool:
        """Healthy iff every attached target group has a healthy target (none registered: unhealthy)."""
        groups = [self._groups.get(arn) for arn in self.group_arns()]
        return bool(groups) and all(g is not None and g.healthy for g in groups)

    def handler(self, port: int) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self._forward(port, request)
        return handle

    async def _forward(self, port: int, request: Request) -> Response:
        group = self._groups.get(self.listeners.get(port, ""))
        target = group.pick() if group is not None else None
        if target is None:
            return text(503, "503 Service Temporarily Unavailable: the target group has no registered targets\n",
                        headers=(("Server", "awselb/2.0"),))
        headers = {k: v for k, v in request.headers.items() if k not in ("connection", "content-length")}
        headers["X-Forwarded-For"] = "127.0.0.1"
        try:
            answer = await fetch(target.address, target.port, request.method, request.path, headers,
                                 connect_timeout_s=10.0, read_timeout_s=60.0)
        except UpstreamError as exc:
            return text(502 if exc.stage == "connect" else 504, f"{exc}\n", headers=(("Server", "awselb/2.0"),))
        # A target's answer passes with its own headers (its Server among them); awselb/2.0 signs only the
        # load balancer's own answers (503, 502, 504), as on AWS.
        passed = tuple((k, v) for k, v in answer.headers.items() if k not in _NOT_PASSED)
        return Response(answer.status, answer.body, content_type=answer.headers.get("content-type", "text/plain"),
                        headers=passed)


_NOT_PASSED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-type"})


async def cancel_checks(groups: list[TargetGroup]) -> None:
    tasks = [t.checker for g in groups for t in g.targets.values() if t.checker is not None]
    for group in groups:
        group.close()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
