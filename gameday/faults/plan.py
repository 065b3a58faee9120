"""What a fault would do, as data: its targets, the inject in words, and its revert (replayable).

`Fault.plan()` returns a `FaultPlan` without changing anything: `gameday plan` prints it, the blast-radius
guard checks its targets, and the rollback journal stores its revert before the fault is injected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Resources a fault creates carry this tag, so a revert can find them from the journal alone, even when
# the runner died between creating one and writing down its id.
TOKEN_TAG = "gameday:fault-token"


@dataclass(frozen=True)
class RevertAction:
    """How to undo a fault, as data: replayable by `gameday rollback` without the Fault object."""

    kind: str  # key in gameday.faults.reverts.REVERTS
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Target:
    """One resource a fault would touch, with what the blast-radius guard needs to place it."""

    kind: str  # e.g. "ec2:instance", "ec2:subnet", "ecs:service", "s3:bucket"
    resource_id: str
    tags: Mapping[str, str] = field(default_factory=dict)
    parents: tuple[str, ...] = ()  # ids of what contains it: the VPC of a subnet, the group of an instance
    aliases: tuple[str, ...] = ()  # other ids of the same resource (an ARN and a name)
    note: str = ""  # where it is, for people: "us-east-1a", "desired 3"

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.resource_id, *self.aliases)

    def describe(self) -> str:
        return f"{self.kind} {self.resource_id}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class FaultPlan:
    fault: str
    targets: tuple[Target, ...]
    action: str  # what inject will do, one line
    revert: RevertAction

    @property
    def target_summary(self) -> str:
        ids = [t.resource_id for t in self.targets]
        return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
