"""Faults `terminate-instance` (EC2 terminates the InService instance of an Auto Scaling group; the group
notices and replaces it) and `terminate-in-group` (the group itself terminates it, as a scale-in, an instance
refresh or an operator's TerminateInstanceInAutoScalingGroup does: its terminating lifecycle hooks run first
and the replacement launches at once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.faults import identity
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import auto_scaling_group, first_in_service, tags_of


@dataclass
class TerminateInstance:
    """Terminate one running instance of `group`; the group is expected to replace it. `through_group`:
    ask the group to (TerminateInstanceInAutoScalingGroup, desired capacity kept) instead of EC2."""

    backend: Backend
    group: str
    through_group: bool = False
    name: str = "terminate-instance"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "EC2 terminates the group's InService instance (as terminate-in-group, the group terminates it "
        "itself, as a scale-in or an instance refresh does: its terminating lifecycle hooks run first and the "
        "replacement launches at once). The group launches a replacement that must boot and run its user data "
        "before it serves; until then clients of that instance's address or name get refused or timed-out "
        "connections.")
    _target: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.through_group and self.name == "terminate-instance":
            self.name = "terminate-in-group"

    @property
    def target(self) -> str:
        return self._target

    def plan(self) -> FaultPlan:
        group = auto_scaling_group(self.backend, self.group, self.name)
        self._target = first_in_service(group, self.name, " to terminate")
        reservations = self.backend.client("ec2").describe_instances(InstanceIds=[self._target])["Reservations"]
        instance: dict[str, Any] = next((i for r in reservations for i in r["Instances"]), {})
        zone = instance.get("Placement", {}).get("AvailabilityZone", "")
        targets = (
            Target("ec2:instance", self._target, tags_of(instance.get("Tags")),
                   (self.group,), note=f"{zone}, in group {self.group}"),
            Target("autoscaling:group", self.group, tags_of(group.get("Tags")),
                   aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")])),
                   note=f"min {group['MinSize']} / max {group['MaxSize']} / desired {group['DesiredCapacity']}"),
        )
        revert = RevertAction(
            "asg.restore-capacity",
            {"group": self.group, "min": group["MinSize"], "max": group["MaxSize"],
             "desired": group["DesiredCapacity"], identity.KEY: identity.asg_identity(group)},
            f"group {self.group} back to min {group['MinSize']} / max {group['MaxSize']} / "
            f"desired {group['DesiredCapacity']} (the terminated instance itself is not restored: "
            "the group replaces it)",
        )
        action = f"group {self.group} terminates {self._target} (its terminating hooks run first)" \
            if self.through_group else f"terminate {self._target}"
        return FaultPlan(self.name, targets, action, revert)

    def inject(self) -> None:
        if self.through_group:
            self.backend.client("autoscaling").terminate_instance_in_auto_scaling_group(
                InstanceId=self._target, ShouldDecrementDesiredCapacity=False)
        else:
            self.backend.client("ec2").terminate_instances(InstanceIds=[self._target])
