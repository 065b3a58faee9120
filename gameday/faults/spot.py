"""Spot faults on localcloud: an interruption with its notice (`spot-interruption`, what FIS's
`aws:ec2:send-spot-instance-interruptions` does), and no Spot capacity for a pool
(`spot-capacity-error`, what `aws:ec2:asg-insufficient-instance-capacity-error` does).

Both act through localcloud's control API (`/spot/...`); on AWS they are FIS actions (`gameday
export-fis`), which this runner does not start itself.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday.backends.base import Backend
from gameday.backends.local import control_request
from gameday.errors import BackendError, ConfigError, FaultError
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import tags_of


def _control(backend: Backend, fault: str, fis_action: str) -> str:
    control = getattr(backend, "ready", {}).get("control_url") if backend.name == "localcloud" else None
    if not control:
        raise ConfigError(f"{fault} needs localcloud's Spot control; on AWS run the FIS action {fis_action} "
                          "(gameday export-fis writes the template)")
    return str(control)


def _post(url: str) -> dict[str, Any]:
    try:
        return dict(json.loads(control_request(url, method="POST") or b"{}"))
    except BackendError as exc:
        raise FaultError(str(exc)) from exc


def _group(backend: Backend, name: str, fault: str) -> dict[str, Any]:
    groups = backend.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise FaultError(f"Auto Scaling group {name} not found", fault=fault, target=name)
    return dict(groups[0])


def _capacity_revert(group: Mapping[str, Any]) -> RevertAction:
    return RevertAction(
        "asg.restore-capacity",
        {"group": group["AutoScalingGroupName"], "min": group["MinSize"], "max": group["MaxSize"],
         "desired": group["DesiredCapacity"]},
        f"group {group['AutoScalingGroupName']} back to min {group['MinSize']} / max {group['MaxSize']} / "
        f"desired {group['DesiredCapacity']} (the interrupted instance itself is not restored: the group "
        "replaces it)")


@dataclass
class SpotInterruption:
    """Interrupt the InService Spot instance of `group`: rebalance recommendation and interruption
    notice in its instance metadata at once, termination `lead_s` later (default: the profile's)."""

    backend: Backend
    group: str
    lead_s: float | None = None
    name: str = "spot-interruption"
    _target: str = field(default="", init=False)
    _control: str = field(default="", init=False)
    notice: dict[str, Any] = field(default_factory=dict, init=False)

    @property
    def target(self) -> str:
        return self._target

    def plan(self) -> FaultPlan:
        self._control = _control(self.backend, self.name, "aws:ec2:send-spot-instance-interruptions")
        group = _group(self.backend, self.group, self.name)
        in_service = sorted(i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService")
        if not in_service:
            raise FaultError(f"group {self.group} has no InService instance to interrupt",
                             fault=self.name, target=self.group)
        self._target = in_service[0]
        reservations = self.backend.client("ec2").describe_instances(InstanceIds=[self._target])["Reservations"]
        instance: dict[str, Any] = next((i for r in reservations for i in r["Instances"]), {})
        if instance.get("InstanceLifecycle") != "spot":
            raise FaultError(f"{self._target} is not a Spot instance", fault=self.name, target=self._target)
        lead = "the profile's notice lead" if self.lead_s is None else f"{self.lead_s:g} s"
        targets = (
            Target("ec2:instance", self._target, tags_of(instance.get("Tags")), (self.group,),
                   note=f"{instance.get('InstanceType', '?')} Spot in "
                        f"{instance.get('Placement', {}).get('AvailabilityZone', '?')}, group {self.group}"),
            Target("autoscaling:group", self.group, tags_of(group.get("Tags")),
                   aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")]))),
        )
        return FaultPlan(self.name, targets, f"interrupt {self._target}: notice now, terminated after {lead}",
                         _capacity_revert(group))

    def inject(self) -> None:
        query = "" if self.lead_s is None else "?" + urllib.parse.urlencode({"lead_seconds": f"{self.lead_s:g}"})
        self.notice = _post(f"{self._control}/spot/{self._target}/interrupt{query}")


@dataclass
class SpotCapacityError:
    """No Spot capacity for `instance_type` in `availability_zone` until reverted: the group must
    launch another pool (InsufficientInstanceCapacity)."""

    backend: Backend
    group: str
    instance_type: str
    availability_zone: str
    name: str = "spot-capacity-error"
    _control: str = field(default="", init=False)

    @property
    def target(self) -> str:
        return f"{self.instance_type}@{self.availability_zone}"

    def plan(self) -> FaultPlan:
        self._control = _control(self.backend, self.name, "aws:ec2:asg-insufficient-instance-capacity-error")
        group = _group(self.backend, self.group, self.name)
        target = Target("ec2:spot-pool", self.target, tags_of(group.get("Tags")), (self.group,),
                        note=f"Spot pool of group {self.group}")
        revert = RevertAction("localcloud.spot-capacity", {"control": self._control,
                                                           "instance_type": self.instance_type,
                                                           "availability_zone": self.availability_zone},
                              f"Spot capacity for {self.target} again")
        return FaultPlan(self.name, (target,), f"no Spot capacity for {self.target}", revert)

    def inject(self) -> None:
        _post(_capacity_url(self._control, self.availability_zone, self.instance_type, "unavailable"))


def _capacity_url(control: str, zone: str, instance_type: str, state: str) -> str:
    return f"{control}/spot/capacity/{urllib.parse.quote(zone)}/{urllib.parse.quote(instance_type)}/{state}"


def restore_spot_capacity(backend: Backend, params: Mapping[str, Any]) -> None:
    """Capacity again (idempotent). A localcloud that is gone took its capacity table with it."""
    try:
        _post(_capacity_url(str(params["control"]), str(params["availability_zone"]),
                            str(params["instance_type"]), "available"))
    except (OSError, FaultError):
        if getattr(backend, "ready", {}).get("control_url") == params["control"]:
            raise
