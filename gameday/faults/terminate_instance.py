"""Fault `terminate-instance`: terminate the InService instance of an Auto Scaling group."""

from __future__ import annotations

from dataclasses import dataclass, field

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults.base import RevertAction


@dataclass
class TerminateInstance:
    """Terminate one running instance of `group`; the group is expected to replace it."""

    backend: Backend
    group: str
    name: str = "terminate-instance"
    _target: str = field(default="", init=False)

    @property
    def target(self) -> str:
        return self._target

    def prepare(self) -> RevertAction:
        groups = self.backend.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.group])["AutoScalingGroups"]
        if not groups:
            raise FaultError(f"Auto Scaling group {self.group} not found", fault=self.name, target=self.group)
        group = groups[0]
        in_service = sorted(i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService")
        if not in_service:
            raise FaultError(f"group {self.group} has no InService instance to terminate",
                             fault=self.name, target=self.group)
        self._target = in_service[0]
        return RevertAction(
            "asg.restore-capacity",
            {"group": self.group, "min": group["MinSize"], "max": group["MaxSize"],
             "desired": group["DesiredCapacity"]},
            f"group {self.group} back to min {group['MinSize']} / max {group['MaxSize']} / "
            f"desired {group['DesiredCapacity']} (the terminated instance itself is not restored: "
            "the group replaces it)",
        )

    def inject(self) -> None:
        self.backend.client("ec2").terminate_instances(InstanceIds=[self._target])
