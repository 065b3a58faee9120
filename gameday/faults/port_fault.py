"""Faults on the server inside a running instance, which EC2's status checks do not see (localcloud only):

- `hang-app`: the server on a port stops answering but keeps the port (connections open, requests wait), as a
  deadlocked or stopped process does. Reverted by resuming it (a no-op once the instance is gone).
- `kill-server`: the server's process is killed, so its port refuses. Nothing restarts it (user data runs once),
  so the revert has the group replace the instance, as an operator would; a group that already replaced it
  leaves nothing to do.

They act through localcloud's control API (`/instances/<id>/ports/<port>/...`). On AWS the same needs a command
run on the instance (SSM Run Command with `kill -STOP` / `kill -9`), which gameday does not send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.backends.local import control_request
from gameday.errors import BackendError, ConfigError, FaultError
from gameday.faults import identity
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import auto_scaling_group, first_in_service, tags_of

LOCAL_ONLY = ("stopping or killing a process inside an instance needs a command run on it (SSM Run Command), "
              "which gameday does not send on AWS")
ACTIONS = {"hang-app": "hang", "kill-server": "kill"}


def control_url(backend: Backend, fault: str) -> str:
    control = getattr(backend, "ready", {}).get("control_url") if backend.name == "localcloud" else None
    if not control:
        raise ConfigError(f"{fault} is localcloud only: {LOCAL_ONLY}")
    return str(control)


def _post(url: str) -> None:
    try:
        control_request(url, method="POST")
    except BackendError as exc:
        raise FaultError(str(exc)) from exc


@dataclass
class PortFault:
    """`name` (hang-app | kill-server) on `port` of the InService instance of `group`."""

    backend: Backend
    group: str
    port: int = 80
    name: str = "hang-app"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The server inside a running instance fails where EC2's status checks do not look (localcloud only): "
        "hang-app keeps the port open but stops answering (requests wait, as with a deadlocked process); "
        "kill-server kills the process, so the port refuses. Only an application-level health check notices.")
    _target: str = field(default="", init=False)
    _url: str = field(default="", init=False)

    @property
    def target(self) -> str:
        return self._target

    def plan(self) -> FaultPlan:
        if self.name not in ACTIONS:
            raise ConfigError(f"port fault {self.name!r}: the faults are {', '.join(ACTIONS)}")
        control = control_url(self.backend, self.name)
        group = auto_scaling_group(self.backend, self.group, self.name)
        self._target = first_in_service(group, self.name)
        self._url = f"{control}/instances/{self._target}/ports/{self.port}"
        reservations = self.backend.client("ec2").describe_instances(InstanceIds=[self._target])["Reservations"]
        instance: dict[str, Any] = next((i for r in reservations for i in r["Instances"]), {})
        targets = (Target("ec2:instance", self._target, tags_of(instance.get("Tags")), (self.group,),
                          note=f"port {self.port}, in group {self.group}"),)
        if self.name == "hang-app":
            return FaultPlan(self.name, targets,
                             f"the server on {self._target}:{self.port} stops answering (the instance runs on)",
                             RevertAction("localcloud.port-resume", {"url": f"{self._url}/resume"},
                                          f"the server on {self._target}:{self.port} answers again"))
        revert = RevertAction(
            "asg.replace-instance",
            {"group": self.group, "instance": self._target, identity.KEY: identity.asg_identity(group)},
            f"group {self.group} replaces {self._target} unless it already has (nothing restarts the server)")
        return FaultPlan(self.name, targets, f"kill the server on {self._target}:{self.port} (its port refuses)",
                         revert)

    def inject(self) -> None:
        _post(f"{self._url}/{ACTIONS[self.name]}")


def resume_port(backend: Backend, params: Mapping[str, Any]) -> None:
    """The server answers again (idempotent; an instance that is gone has nothing to resume). A localcloud that
    is gone took the hang with it."""
    try:
        _post(str(params["url"]))
    except (OSError, FaultError):
        control = getattr(backend, "ready", {}).get("control_url")
        if control and str(params["url"]).startswith(str(control)):
            raise


def replace_instance(backend: Backend, params: Mapping[str, Any]) -> None:
    """The group terminates the instance and launches its replacement (desired kept), if it is still a member."""
    asg = backend.client("autoscaling")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[str(params["group"])])["AutoScalingGroups"]
    if not groups:
        return  # the stack is gone with its group
    identity.check_asg(params, groups[0])
    members = {i["InstanceId"]: i["LifecycleState"] for i in groups[0]["Instances"]}
    if members.get(str(params["instance"])) == "InService":
        asg.terminate_instance_in_auto_scaling_group(InstanceId=str(params["instance"]),
                                                     ShouldDecrementDesiredCapacity=False)


def replace_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    groups = backend.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[str(params["group"])])["AutoScalingGroups"]
    if not groups:
        return ()
    identity.check_asg(params, groups[0])
    group = groups[0]
    return (Target("autoscaling:group", group["AutoScalingGroupName"], tags_of(group.get("Tags")),
                   aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")]))),)
