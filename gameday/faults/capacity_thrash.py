"""Fault `capacity-thrash`: two instances alive at once, for a moment.

The group is scaled out by one (max raised if it must be), and once the newcomer passes its EC2 health
check (InService and running) the group is scaled back in: its termination policy picks who leaves. That
is what Capacity Rebalancing, an instance refresh or an operator's scale-out-and-back do to a group of
one, and where a name that follows "the last instance that wrote it" can be left on the one that left.

The scale-in is the fault's second step, taken by a bounded watcher thread; `steps` records both steps
and `addresses` every member's IPv6 address as seen while it lived (a terminated instance loses it), so
the analysis can say which instance the record named. The revert puts min/max/desired back (if the
watcher never got to scale in, that is the scale-in).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults import identity
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import instance_ipv6, tags_of

log = logging.getLogger(__name__)

POLL_S = 0.25


@dataclass(frozen=True)
class Step:
    at: float  # epoch seconds
    what: str  # scale-out | newcomer-healthy | scale-in | left | gave-up
    detail: dict[str, Any]


@dataclass
class CapacityThrash:
    """Scale `group` out by one, then back in as soon as the newcomer is healthy (after `hold_s`)."""

    backend: Backend
    group: str
    hold_s: float = 0.0
    timeout_s: float = 180.0
    name: str = "capacity-thrash"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The group is scaled out by one and, once the newcomer is healthy, back in: two instances are alive "
        "at once, as Capacity Rebalancing or an instance refresh makes them. A name that follows the last "
        "instance to write it can be left pointing at the one the group terminated.")
    steps: list[Step] = field(default_factory=list, init=False)
    addresses: dict[str, str] = field(default_factory=dict, init=False)  # instance id -> IPv6 address
    error: str | None = field(default=None, init=False)
    _original: dict[str, int] = field(default_factory=dict, init=False)
    _before: frozenset[str] = field(default_factory=frozenset, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    @property
    def target(self) -> str:
        return self.group

    @property
    def newcomer(self) -> str | None:
        return next((str(s.detail["instance"]) for s in self.steps if s.what == "newcomer-healthy"), None)

    @property
    def left(self) -> list[str]:
        return [str(s.detail["instance"]) for s in self.steps if s.what == "left"]

    def plan(self) -> FaultPlan:
        group = self._describe()
        if group is None:
            raise FaultError(f"Auto Scaling group {self.group} not found", fault=self.name, target=self.group)
        members = [i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"]
        if len(members) != group["DesiredCapacity"]:
            raise FaultError(f"group {self.group} is not steady ({len(members)} InService of desired "
                             f"{group['DesiredCapacity']}): nothing to thrash", fault=self.name, target=self.group)
        self._original = {"min": group["MinSize"], "max": group["MaxSize"], "desired": group["DesiredCapacity"]}
        self._before = frozenset(members)
        policies = ", ".join(group.get("TerminationPolicies") or ["Default"])
        target = Target("autoscaling:group", self.group, tags_of(group.get("Tags")),
                        aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")])),
                        note=f"min {group['MinSize']} / max {group['MaxSize']} / desired {group['DesiredCapacity']}, "
                             f"termination policies {policies}")
        o = self._original
        revert = RevertAction("asg.restore-capacity",
                              {"group": self.group, **o, identity.KEY: identity.asg_identity(group)},
                              f"group {self.group} back to min {o['min']} / max {o['max']} / desired {o['desired']}")
        return FaultPlan(self.name, (target,), f"scale {self.group} out to {o['desired'] + 1}, then back in to "
                         f"{o['desired']} once the newcomer is healthy ({policies} picks who leaves)", revert)

    def inject(self) -> None:
        o = self._original
        for instance in self._before:
            self._remember_address(instance)
        self.backend.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=self.group, MaxSize=max(o["max"], o["desired"] + 1), DesiredCapacity=o["desired"] + 1)
        self._step("scale-out", desired=o["desired"] + 1)
        self._thread = threading.Thread(target=self._second_step, name=f"thrash-{self.group}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the watcher (it also ends by itself once the group is back to its size, or at `timeout_s`)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wait(self, timeout_s: float) -> bool:
        """Until the watcher is done (the group back to its size): True if it is."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # --- the watcher ---

    def _second_step(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        try:
            newcomer = self._wait_for_newcomer(deadline)
            if newcomer is None:
                return
            self._stop.wait(self.hold_s)
            o = self._original
            self.backend.client("autoscaling").update_auto_scaling_group(
                AutoScalingGroupName=self.group, MaxSize=o["max"], DesiredCapacity=o["desired"])
            self._step("scale-in", desired=o["desired"])
            self._wait_for_departures(deadline)
        except Exception as exc:  # reported by the scenario; the revert restores the group either way
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("capacity-thrash on %s: %s", self.group, self.error)

    def _wait_for_newcomer(self, deadline: float) -> str | None:
        ec2 = self.backend.client("ec2")
        while not self._stop.is_set():
            group = self._describe()
            if group is None:
                self._gave_up("the group is gone")
                return None
            fresh = sorted(i["InstanceId"] for i in group["Instances"]
                           if i["InstanceId"] not in self._before and i["LifecycleState"] == "InService")
            for instance in fresh:
                self._remember_address(instance)
                found = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
                if any(i["State"]["Name"] == "running" for r in found for i in r["Instances"]):
                    self._step("newcomer-healthy", instance=instance)
                    return instance
            if time.monotonic() > deadline:
                self._gave_up("no newcomer passed its health check")
                return None
            self._stop.wait(POLL_S)
        return None

    def _wait_for_departures(self, deadline: float) -> None:
        """Until as many of the instances alive at the scale-out have left the group as the scale-in asked."""
        watched = set(self._before) | {i for i in [self.newcomer] if i}
        while not self._stop.is_set():
            group = self._describe()
            members = {i["InstanceId"] for i in (group or {}).get("Instances", [])}
            for instance in sorted(watched - members):
                watched.discard(instance)
                self._step("left", instance=instance)
            if len(watched) <= self._original["desired"]:
                return
            if time.monotonic() > deadline:
                self._gave_up("the group did not scale back in")
                return
            self._stop.wait(POLL_S)

    def _remember_address(self, instance: str) -> None:
        if instance not in self.addresses and (address := instance_ipv6(self.backend.client("ec2"), instance)):
            self.addresses[instance] = address

    def _describe(self) -> dict[str, Any] | None:
        groups = self.backend.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.group])["AutoScalingGroups"]
        return dict(groups[0]) if groups else None

    def _step(self, what: str, **detail: Any) -> None:
        self.steps.append(Step(time.time(), what, {"group": self.group, **detail}))

    def _gave_up(self, why: str) -> None:
        self.error = f"{why} within {self.timeout_s:.0f} s"
        self._step("gave-up", reason=self.error)
