"""Fault `scale-ecs-service`: set an ECS service's desired count (0: the service is down); revert restores it.

An Application Auto Scaling policy on the service may fight the fault; suspend it in the scenario if so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from gameday.backends.base import Backend
from gameday.errors import ConfigError, FaultError
from gameday.faults import identity
from gameday.faults.plan import TOKEN_TAG, FaultPlan, RevertAction, Target
from gameday.faults.resources import is_gone, new_token, tags_of


@dataclass
class ScaleEcsService:
    backend: Backend
    cluster: str
    service: str
    desired: int = 0
    name: str = "scale-ecs-service"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The ECS service's desired count is set (to 0: the service stops its tasks). The load balancer has no "
        "healthy target and answers 503; the DNS health check must fail before clients are sent to the "
        "secondary, and resolvers keep the old answer for up to its TTL.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return self._plan.target_summary if self._plan else self.service

    def plan(self) -> FaultPlan:
        if not isinstance(self.desired, int) or isinstance(self.desired, bool) or self.desired < 0:
            raise ConfigError(f"{self.name}: desired count must be a whole number >= 0, not {self.desired!r}")
        found = _describe(self.backend.client("ecs"), self.cluster, self.service)
        if found is None:
            raise FaultError(f"ECS service {self.service} not found (or not ACTIVE) in cluster {self.cluster}",
                             fault=self.name, target=self.service)
        current = int(found["desiredCount"])
        target = Target("ecs:service", found["serviceArn"], tags_of(found.get("tags")),
                        (found["clusterArn"], self.cluster), aliases=(found["serviceName"],),
                        note=f"cluster {self.cluster}, desired {current}")
        self._plan = FaultPlan(
            self.name, (target,), f"set the desired count of {found['serviceName']} from {current} to {self.desired}",
            RevertAction("ecs.restore-desired-count",
                         {"cluster": self.cluster, "service": found["serviceArn"], "desired": current,
                          identity.KEY: identity.of(found["serviceArn"], found.get("createdAt"),
                                                    "" if found.get("createdAt") else new_token())},
                         f"desired count of {found['serviceName']} back to {current}"))
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.service)
        ecs, arn = self.backend.client("ecs"), self._plan.revert.params["service"]
        token = identity.recorded_tag(self._plan.revert.params)
        if token:  # no creation time to tell this service from a later one of the same name: mark it
            ecs.tag_resource(resourceArn=arn, tags=[{"key": TOKEN_TAG, "value": token}])
        ecs.update_service(cluster=self.cluster, service=arn, desiredCount=self.desired)


def _describe(ecs: Any, cluster: str, service: str) -> dict[str, Any] | None:
    try:
        services = ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])["services"]
    except ClientError as exc:
        if is_gone(exc):
            return None
        raise
    active = [s for s in services if s.get("status") == "ACTIVE"]
    return active[0] if active else None


def restore_desired_count(backend: Backend, params: Mapping[str, Any]) -> None:
    """Desired count back as recorded (a no-op when already so, or when the service is gone). Only on the
    service the fault scaled: a service of the same name created since is refused (see `identity`)."""
    ecs = backend.client("ecs")
    found = _describe(ecs, params["cluster"], params["service"])
    if found is None:
        return
    if int(found["desiredCount"]) != int(params["desired"]):
        _check_identity(params, found)
        ecs.update_service(cluster=found["clusterArn"], service=found["serviceArn"],
                           desiredCount=int(params["desired"]))
    token = identity.recorded_tag(params)
    if token and tags_of(found.get("tags")).get(TOKEN_TAG) == token:
        ecs.untag_resource(resourceArn=found["serviceArn"], tagKeys=[TOKEN_TAG])


def desired_count_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live service the revert would scale, its identity checked (nothing when it is gone)."""
    found = _describe(backend.client("ecs"), params["cluster"], params["service"])
    if found is None:
        return ()
    if int(found["desiredCount"]) != int(params["desired"]):  # only a revert that acts must find the same one
        _check_identity(params, found)
    return (Target("ecs:service", found["serviceArn"], tags_of(found.get("tags")),
                   (found["clusterArn"], str(params["cluster"])), aliases=(found["serviceName"],)),)


def _check_identity(params: Mapping[str, Any], found: Mapping[str, Any]) -> None:
    identity.check(params, f"ECS service {found['serviceArn']}", found["serviceArn"], found.get("createdAt"),
                   tags_of(found.get("tags")))
