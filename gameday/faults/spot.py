"""Spot faults: an interruption with its notice (`spot-interruption`, FIS's
`aws:ec2:send-spot-instance-interruptions`), and no capacity for a pool (`spot-capacity-error`, FIS's
`aws:ec2:asg-insufficient-instance-capacity-error`).

On localcloud they act through its control API (`/spot/...`). Anywhere else (AWS, or a standalone localcloud
standing in for an account) they run as FIS experiments on the exact instance or group (see `fis`).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.backends.local import control_request
from gameday.clock import Clock, SystemClock
from gameday.errors import BackendError, ConfigError, FaultError
from gameday.faults import fis, identity
from gameday.faults.plan import TOKEN_TAG, FaultPlan, RevertAction, Target
from gameday.faults.resources import new_token, tags_of

INTERRUPTIONS = "aws:ec2:send-spot-instance-interruptions"
INSUFFICIENT_CAPACITY = "aws:ec2:asg-insufficient-instance-capacity-error"
NOTICE_RANGE_S = (120.0, 900.0)  # FIS: durationBeforeInterruption from PT2M to PT15M


@dataclass(frozen=True)
class _FisPlan:
    token: str
    role_arn: str
    action: fis.FisAction


def _control(backend: Backend) -> str | None:
    """localcloud's control API when the backend is a localcloud with one; None: inject through FIS."""
    control = getattr(backend, "ready", {}).get("control_url") if backend.name == "localcloud" else None
    return str(control) if control else None


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


def _capacity_params(group: Mapping[str, Any]) -> dict[str, Any]:
    return {"group": group["AutoScalingGroupName"], "min": group["MinSize"], "max": group["MaxSize"],
            "desired": group["DesiredCapacity"], identity.KEY: identity.asg_identity(group)}


def _capacity_description(group: Mapping[str, Any]) -> str:
    return (f"group {group['AutoScalingGroupName']} back to min {group['MinSize']} / max {group['MaxSize']} / "
            f"desired {group['DesiredCapacity']}")


def _capacity_revert(group: Mapping[str, Any]) -> RevertAction:
    return RevertAction("asg.restore-capacity", _capacity_params(group),
                        f"{_capacity_description(group)} (the interrupted instance itself is not restored: the "
                        "group replaces it)")


def _fis_revert(group: Mapping[str, Any], token: str, description: str) -> RevertAction:
    """Stop the fault's experiments first (composite reverts run last first), then the group's capacity."""
    return fis.composite([{"kind": "asg.restore-capacity", "params": _capacity_params(group)},
                          fis.stop_revert(token)],
                         f"stop the FIS experiment (tag {TOKEN_TAG}={token}){description}; "
                         f"{_capacity_description(group)}")


def _notice_duration(lead_s: float | None, fault: str) -> str:
    """FIS's durationBeforeInterruption: AWS's two minutes, or `lead_s` (AWS seconds, PT2M to PT15M)."""
    if lead_s is None:
        return "PT2M"
    low, high = NOTICE_RANGE_S
    if not low <= lead_s <= high:
        raise ConfigError(f"{fault}: through FIS the notice lasts {low:.0f} to {high:.0f} s, not {lead_s:g}")
    return f"PT{lead_s:g}S"


@dataclass
class SpotInterruption:
    """Interrupt the InService Spot instance of `group`: rebalance recommendation and interruption
    notice in its instance metadata at once, termination `lead_s` later (default: the profile's on
    localcloud, AWS's two minutes through FIS, where `lead_s` is AWS seconds from 120 to 900)."""

    backend: Backend
    group: str
    lead_s: float | None = None
    name: str = "spot-interruption"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The Spot instance is interrupted as AWS does (FIS aws:ec2:send-spot-instance-interruptions): a "
        "rebalance recommendation and a two-minute interruption notice in its instance metadata, then "
        "termination. The group launches a replacement; the stable name must follow it (user data, lifecycle "
        "hook or Cloud Map), and clients see the outage from termination until it does.")
    clock: Clock = field(default_factory=SystemClock)
    _target: str = field(default="", init=False)
    _control: str | None = field(default=None, init=False)
    _fis: _FisPlan | None = field(default=None, init=False)
    notice: dict[str, Any] = field(default_factory=dict, init=False)

    @property
    def target(self) -> str:
        return self._target

    def plan(self) -> FaultPlan:
        self._control = _control(self.backend)
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
        zone = instance.get("Placement", {}).get("AvailabilityZone", "?")
        targets = (
            Target("ec2:instance", self._target, tags_of(instance.get("Tags")), (self.group,),
                   note=f"{instance.get('InstanceType', '?')} Spot in {zone}, group {self.group}"),
            Target("autoscaling:group", self.group, tags_of(group.get("Tags")),
                   aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")]))),
        )
        if self._control is not None:
            lead = "the profile's notice lead" if self.lead_s is None else f"{self.lead_s:g} s"
            return FaultPlan(self.name, targets, f"interrupt {self._target}: notice now, terminated after {lead}",
                             _capacity_revert(group))
        return self._fis_plan(group, targets)

    def _fis_plan(self, group: Mapping[str, Any], targets: tuple[Target, ...]) -> FaultPlan:
        notice = _notice_duration(self.lead_s, self.name)
        account = self.backend.client("sts").get_caller_identity()["Account"]
        arn = f"arn:aws:ec2:{self.backend.region}:{account}:instance/{self._target}"
        action = fis.FisAction(INTERRUPTIONS, "SpotInstances", "aws:ec2:spot-instance", (arn,),
                               {"durationBeforeInterruption": notice})
        self._fis = _FisPlan(new_token(), fis.fis_role(self.backend, self.name), action)
        return FaultPlan(self.name, targets,
                         f"interrupt {self._target} through an AWS FIS experiment ({INTERRUPTIONS}, "
                         f"durationBeforeInterruption {notice}, role {self._fis.role_arn}): notice now, "
                         "terminated after the notice",
                         _fis_revert(group, self._fis.token, " (the interruption itself cannot be taken back)"))

    def inject(self) -> None:
        if self._fis is not None:
            experiment = fis.start(self.backend, self.name, self._fis.token, self._fis.action, self._fis.role_arn,
                                   self.clock)
            self.notice = {"instance_id": self._target, "experiment_id": experiment}
            return
        query = "" if self.lead_s is None else "?" + urllib.parse.urlencode({"lead_seconds": f"{self.lead_s:g}"})
        self.notice = _post(f"{self._control}/spot/{self._target}/interrupt{query}")


@dataclass
class SpotCapacityError:
    """No Spot capacity for `instance_type` in `availability_zone` until reverted: the group must
    launch another pool (InsufficientInstanceCapacity).

    Through FIS the error reaches every launch of the group in that zone, whatever the type (FIS's action
    names zones, not instance types); the experiment ends by itself after `fis_duration` if never reverted."""

    backend: Backend
    group: str
    instance_type: str
    availability_zone: str
    name: str = "spot-capacity-error"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "Launches of the first-choice Spot pool fail with InsufficientInstanceCapacity (FIS "
        "aws:ec2:asg-insufficient-instance-capacity-error). The group must retry with another instance type "
        "or zone; each failed attempt adds to the time until a replacement serves.")
    fis_duration: str = "PT30M"
    clock: Clock = field(default_factory=SystemClock)
    _control: str | None = field(default=None, init=False)
    _fis: _FisPlan | None = field(default=None, init=False)
    experiment_id: str = field(default="", init=False)

    @property
    def target(self) -> str:
        return f"{self.instance_type}@{self.availability_zone}"

    def plan(self) -> FaultPlan:
        self._control = _control(self.backend)
        group = _group(self.backend, self.group, self.name)
        if self._control is None:
            return self._fis_plan(group)
        target = Target("ec2:spot-pool", self.target, tags_of(group.get("Tags")), (self.group,),
                        note=f"Spot pool of group {self.group}")
        revert = RevertAction("localcloud.spot-capacity", {"control": self._control,
                                                           "instance_type": self.instance_type,
                                                           "availability_zone": self.availability_zone},
                              f"Spot capacity for {self.target} again")
        return FaultPlan(self.name, (target,), f"no Spot capacity for {self.target}", revert)

    def _fis_plan(self, group: Mapping[str, Any]) -> FaultPlan:
        arn = str(group["AutoScalingGroupARN"])
        action = fis.FisAction(INSUFFICIENT_CAPACITY, "AutoScalingGroups", "aws:ec2:autoscaling-group", (arn,),
                               {"availabilityZoneIdentifiers": self.availability_zone, "duration": self.fis_duration,
                                "percentage": "100"})
        self._fis = _FisPlan(new_token(), fis.fis_role(self.backend, self.name), action)
        target = Target("autoscaling:group", self.group, tags_of(group.get("Tags")), aliases=(arn,),
                        note=f"its launches in {self.availability_zone} fail")
        return FaultPlan(self.name, (target,),
                         f"InsufficientInstanceCapacity for every launch of group {self.group} in "
                         f"{self.availability_zone} (any instance type, not only {self.instance_type}) through an "
                         f"AWS FIS experiment ({INSUFFICIENT_CAPACITY}, role {self._fis.role_arn}), until reverted "
                         f"or {self.fis_duration} at most",
                         _fis_revert(group, self._fis.token, ""))

    def inject(self) -> None:
        if self._fis is not None:
            self.experiment_id = fis.start(self.backend, self.name, self._fis.token, self._fis.action,
                                           self._fis.role_arn, self.clock)
            return
        _post(_capacity_url(str(self._control), self.availability_zone, self.instance_type, "unavailable"))


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
