"""Fault `scale-to-zero`: the night-time cost saving of a group of one. The group's min/max/desired go to 0 (its
instance is terminated, the Elastic IP it held stays allocated but unassociated); the revert, the morning,
puts the sizes back, so the group launches a fresh instance whose boot must claim the address again.

The scenario watches the night for a fixed time and measures the morning after the revert: how long until
the same address serves again, and that the address was re-associated to the new instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults import identity
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import auto_scaling_group, tags_of


@dataclass
class ScaleToZero:
    backend: Backend
    group: str
    name: str = "scale-to-zero"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The group's min, max and desired go to 0 (a night-time cost saving): its instance is terminated and "
        "the Elastic IP stays allocated but unassociated, so the address answers nothing. The revert restores "
        "the sizes and the new instance's boot must claim the address again.")
    night_instances: tuple[str, ...] = field(default=(), init=False)  # who served before the night

    @property
    def target(self) -> str:
        return self.group

    def plan(self) -> FaultPlan:
        group = auto_scaling_group(self.backend, self.group, self.name)
        if group["DesiredCapacity"] < 1:
            raise FaultError(f"group {self.group} is already at desired 0: no night to start",
                             fault=self.name, target=self.group)
        self.night_instances = tuple(sorted(i["InstanceId"] for i in group["Instances"]))
        sizes = f"min {group['MinSize']} / max {group['MaxSize']} / desired {group['DesiredCapacity']}"
        target = Target("autoscaling:group", self.group, tags_of(group.get("Tags")),
                        aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")])), note=sizes)
        revert = RevertAction(
            "asg.restore-capacity",
            {"group": self.group, "min": group["MinSize"], "max": group["MaxSize"],
             "desired": group["DesiredCapacity"], identity.KEY: identity.asg_identity(group)},
            f"the morning: group {self.group} back to {sizes} (a fresh instance launches and claims the address)")
        return FaultPlan(self.name, (target,), f"group {self.group} to min 0 / max 0 / desired 0 (the night)",
                         revert)

    def inject(self) -> None:
        self.backend.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=self.group, MinSize=0, MaxSize=0, DesiredCapacity=0)
