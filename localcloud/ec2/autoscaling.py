"""Auto Scaling as it behaves on AWS, over moto's bookkeeping.

moto replaces a terminated group member inside the TerminateInstances call. Here the group first
notices (`asg.detect_not_running`: the instance is marked Unhealthy), then launching takes
`ec2.run_instances_api`, and only then does the group terminate the member and launch its
replacement (on the control worker, not on the data plane). Launches are spread over the group's
subnets, fewest instances first, as the AZ rebalancing of a real group does (moto puts every
instance in the first subnet).

Every member the group terminates — scale-in (chosen by the termination policies, where moto takes
the first ones), TerminateInstanceInAutoScalingGroup, an unhealthy member — may be held by the
group's terminating lifecycle hooks (`TerminationHooks`); it then stops counting toward the desired
capacity, so its replacement launches while it waits. Deleting a group ends it all at once.

A group whose mixed instances policy is all Spot launches Spot instances (moto launches On-Demand
ones of the template's type): the first pool, AZ-balanced subnet first and override types in their
order, that has capacity. A pool out of capacity is a capacity error; the group tries the next
pool `ec2.ice_retry` later, and after a round in which every pool failed it starts over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcloud.ec2 import moto_state, termination
from localcloud.ec2.spot import Pool, SpotCapacity
from localcloud.ec2.zones import ZoneOutages
from localcloud.events import (
    ASG_LAUNCH_ABANDONED,
    ASG_TERMINATE,
    ASG_UNHEALTHY,
    CAPACITY_ERROR,
    SPOT_FULFILLED,
    EventLog,
)

log = logging.getLogger(__name__)

DETECT_DELAY = "asg.detect_not_running"
DETECT_IMPAIRED_DELAY = "asg.detect_impaired"
LAUNCH_DELAY = "ec2.run_instances_api"
ICE_RETRY_DELAY = "ec2.ice_retry"
MAX_LAUNCH_ATTEMPTS = 200  # a group that never finds capacity gives up (AWS retries on, with back-off)

Launcher = Callable[[int, dict[str, str]], None]
Replace = Callable[[list[str]], None]  # moto's replacement of these terminated members (out of the group, relaunch)


class TerminationHooks(Protocol):
    """The groups' terminating lifecycle hooks (the lifecycle service, when it runs)."""

    def hold(self, state: Any, proceed: Callable[[], None]) -> bool:
        """Hold a member the group terminates in Terminating:Wait and call `proceed` (on another thread) once its
        actions have ended; False if its group has no terminating hooks."""

    def release(self, group: Any) -> None:
        """The group is being deleted: its outstanding actions end now."""


@dataclass
class _Shortage:
    """A group's run of capacity errors, from the first until a launch succeeds."""

    attempts: int = 0
    failed: set[Pool] = field(default_factory=set)  # pools that failed in this round
    # The order chosen at the first attempt: retries keep it (the zone AZ balance picked, then the next
    # type there), instead of drawing the tie between equally loaded zones again each time.
    candidates: list[tuple[Pool, str | None]] = field(default_factory=list)
    retry_pending: bool = False


class AutoScaling:
    """`terminated` runs on the loop thread; `launch`, `set_desired`, `terminate_member` and `deleting` on
    whichever thread moto calls them from (request threads, the control worker)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, events: EventLog, delay: Callable[[str], float],
                 control: Executor, rng: random.Random, capacity: SpotCapacity | None = None,
                 zones: ZoneOutages | None = None) -> None:
        self._loop = loop
        self._events = events
        self._delay = delay
        self._control = control
        self._rng = rng
        self._capacity = capacity if capacity is not None else SpotCapacity()
        self._zones = zones if zones is not None else ZoneOutages()
        self._zone_waits: dict[str, int] = {}  # group -> launches refused in a row for want of a zone
        self._zone_retries: set[str] = set()  # groups with a retry pending
        self._timers: set[asyncio.TimerHandle] = set()
        self._lock = threading.Lock()  # _shortages: moto's request threads and the control worker
        self._shortages: dict[str, _Shortage] = {}
        self._closed = False
        self.termination_hooks: TerminationHooks | None = None

    def terminated(self, members: dict[str, Any], replace: Replace) -> None:
        """`members`: instance id -> moto's ASG InstanceState, for the terminated group members."""
        self._later(self._delay(DETECT_DELAY), self._detected, members, replace)

    def _detected(self, members: dict[str, Any], replace: Replace) -> None:
        for instance_id, state in members.items():
            state.health_status = "Unhealthy"
            self._events.emit(ASG_UNHEALTHY, instance_id, asg=state.auto_scaling_group_name,
                              instance=instance_id, reason="instance not running")
        self._later(self._delay(LAUNCH_DELAY), self._replace, members, replace)

    def _replace(self, members: dict[str, Any], replace: Replace) -> None:
        future = self._control.submit(self._terminate_unhealthy, members, replace)
        future.add_done_callback(_log_failure)

    def _terminate_unhealthy(self, members: dict[str, Any], replace: Replace) -> None:
        """The group terminates the members that stopped running and launches replacements; one its terminating
        hooks hold stays in the group, in Terminating:Wait, while its replacement launches."""
        current = {iid: m for iid, m in members.items()
                   if m in m.auto_scaling_group.instance_states and m.lifecycle_state not in moto_state.LEAVING}
        held = {iid: m for iid, m in current.items() if self._held(m, "unhealthy")}
        released = [iid for iid in current if iid not in held]
        if released:
            replace(released)
        for group in {id(m.auto_scaling_group): m.auto_scaling_group for m in held.values()}.values():
            group.set_desired_capacity(group.desired_capacity)

    def health_set(self, member: Any) -> None:
        """SetInstanceHealth marked a running member Unhealthy (custom health: a watchdog on the instance, a
        monitoring system). The group acts on it at its next periodic health check (the same unpublished cadence
        as for a member that stopped running, `asg.detect_not_running`), then terminates it and launches its
        replacement, each after the terminating hooks as for any member it terminates."""
        self._later(self._delay(DETECT_DELAY), self._custom_unhealthy, member)

    def _custom_unhealthy(self, member: Any) -> None:
        group = member.auto_scaling_group
        if member.health_status != "Unhealthy" or member not in group.instance_states \
                or member.lifecycle_state in moto_state.LEAVING:
            return  # set Healthy again, or already on its way out
        instance_id = member.instance.id
        self._events.emit(ASG_UNHEALTHY, instance_id, asg=member.auto_scaling_group_name, instance=instance_id,
                          reason="health status set to Unhealthy (SetInstanceHealth)")

        def refill(ids: list[str]) -> None:
            if instance_id in ids:
                moto_state.leave_group(member)
                group.set_desired_capacity(group.desired_capacity)  # the replacement launches now
        self._later(self._delay(LAUNCH_DELAY), self._replace, {instance_id: member}, refill)

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        if self._closed:
            return

        def fire() -> None:
            self._timers.discard(handle)
            fn(*args)
        handle = self._loop.call_later(delay, fire)
        self._timers.add(handle)

    def close(self) -> None:
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    # --- members in a lost zone (loop thread) ---

    def impaired(self, members: dict[str, Any]) -> None:
        """`members`: instance id -> InstanceState, for members whose zone was lost. Their status checks fail; the
        group waits `asg.detect_impaired` before it marks them Unhealthy, then terminates and replaces them."""
        self._later(self._delay(DETECT_IMPAIRED_DELAY), self._impaired_detected, members)

    def _impaired_detected(self, members: dict[str, Any]) -> None:
        current = {iid: m for iid, m in members.items()
                   if m in m.auto_scaling_group.instance_states and m.lifecycle_state not in moto_state.LEAVING}
        for instance_id, member in current.items():
            member.health_status = "Unhealthy"
            self._events.emit(ASG_UNHEALTHY, instance_id, asg=member.auto_scaling_group_name, instance=instance_id,
                              reason="instance status impaired (its zone is unavailable)")
        if current:
            self._later(self._delay(LAUNCH_DELAY), self._terminate_impaired_soon, current)

    def _terminate_impaired_soon(self, members: dict[str, Any]) -> None:
        self._control.submit(self._terminate_impaired, members).add_done_callback(_log_failure)

    def _terminate_impaired(self, members: dict[str, Any]) -> None:
        """Control worker: the group terminates them (after its terminating hooks) and launches their
        replacements where a zone is left."""
        for member in members.values():
            group = member.auto_scaling_group
            if member in group.instance_states and not self._held(member, "unhealthy"):
                moto_state.leave_group(member)
                group.set_desired_capacity(group.desired_capacity)  # the replacement launches now

    # --- members leaving (moto's request threads, the control worker) ---

    def set_desired(self, group: Any, new_capacity: int | None, set_desired: Callable[[], None]) -> None:
        """SetDesiredCapacity and UpdateAutoScalingGroup: moto's own (`set_desired`), except that a scale-in
        terminates the members the termination policies choose, each after its terminating hooks."""
        desired = group.min_size if new_capacity is None else new_capacity
        excess = len(group.active_instances()) - moto_state.instances_wanted(group, desired or 0)
        if excess <= 0:
            set_desired()
            return
        group.desired_capacity = desired
        for member in termination.choose(group, excess, self._rng):
            if not self._held(member, "scale-in"):
                moto_state.leave_group(member)
        moto_state.refresh_load_balancers(group)

    def terminate_member(self, member: Any, decrement: bool, terminate: Callable[[], Any]) -> Any:
        """TerminateInstanceInAutoScalingGroup; without terminating hooks, moto's own (`terminate`)."""
        group = member.auto_scaling_group
        original = group.desired_capacity
        if member.lifecycle_state in moto_state.LEAVING:
            return moto_state.termination_activity(member.instance, original)
        if not self._held(member, "user request"):
            return terminate()
        if decrement:
            group.desired_capacity = original - 1
        group.set_desired_capacity(group.desired_capacity)  # unless decremented, the replacement launches now
        return moto_state.termination_activity(member.instance, original)

    def deleting(self, group: Any) -> None:
        """DeleteAutoScalingGroup, before moto scales the group to zero: as with ForceDelete, outstanding lifecycle
        actions end and every member terminates at once, so a deletion never waits on a hook."""
        if self.termination_hooks is not None:
            self.termination_hooks.release(group)
        for member in list(group.instance_states):
            self._emit_terminate(member, "group deleted")
            moto_state.leave_group(member)

    def _held(self, member: Any, cause: str) -> bool:
        """The group terminates `member`: held by its terminating hooks (True), or to be terminated now."""
        self._emit_terminate(member, cause)
        hooks = self.termination_hooks
        return hooks is not None and hooks.hold(member, lambda: moto_state.leave_group(member))

    def _emit_terminate(self, member: Any, cause: str) -> None:
        instance = member.instance
        self._events.emit(ASG_TERMINATE, instance.id, asg=member.auto_scaling_group_name, instance=instance.id,
                          cause=cause, availability_zone=str(instance.placement.zone),
                          policies=list(member.auto_scaling_group.termination_policies or []))

    # --- launches ---

    def launch(self, group: Any, launch: Launcher, count: int, tags: dict[str, str]) -> None:
        launch = _noting_configuration(group, launch)
        types = moto_state.spot_override_types(group)
        if types is not None:
            self._launch_spot(group, launch, count, tags, types)
            return
        subnets = [s.strip() for s in (group.vpc_zone_identifier or "").split(",") if s.strip()]
        usable = [s for s in subnets if not self._zones.lost(moto_state.subnet_zone(group, s))] \
            if self._zones.lost_zones() else subnets
        if subnets and not usable:
            self._no_zone_left(group, launch, tags, subnets)
            return
        if self._zone_waits:  # launching again: a wait for a zone is over
            with self._lock:
                self._zone_waits.pop(group.name, None)
        if len(subnets) < 2:
            launch(count, tags)
            return
        subnets = usable
        order = {subnet: self._rng.random() for subnet in subnets}  # ties broken at random, as AWS does
        saved = group.vpc_zone_identifier
        try:
            for _ in range(count):
                alive = Counter(st.instance.subnet_id for st in moto_state.live_members(group))
                chosen = min(subnets, key=lambda s: (alive.get(s, 0), order[s]))
                group.vpc_zone_identifier = ",".join([chosen, *(s for s in subnets if s != chosen)])
                launch(1, dict(tags))  # moto launches into the first subnet listed
        finally:
            group.vpc_zone_identifier = saved

    def _no_zone_left(self, group: Any, launch: Launcher, tags: dict[str, str], subnets: list[str]) -> None:
        """Every subnet of the group is in a lost zone: a capacity error, and another try `ec2.ice_retry` later
        (one pending retry per group, whatever asked for the launch)."""
        with self._lock:
            attempt = self._zone_waits.get(group.name, 0) + 1
            self._zone_waits[group.name] = attempt
            schedule = group.name not in self._zone_retries
            self._zone_retries.add(group.name)
        zones = sorted({moto_state.subnet_zone(group, s) for s in subnets})
        self._events.emit(CAPACITY_ERROR, group.name, asg=group.name, availability_zone=",".join(zones),
                          subnet=",".join(subnets), attempt=attempt, error="InsufficientInstanceCapacity",
                          reason=f"every subnet of the group is in an unavailable zone ({', '.join(zones)})")
        if attempt >= MAX_LAUNCH_ATTEMPTS:
            with self._lock:
                self._zone_waits.pop(group.name, None)
                self._zone_retries.discard(group.name)
            self._events.emit(ASG_LAUNCH_ABANDONED, group.name, asg=group.name, attempts=attempt)
            return
        if schedule:
            self._loop.call_soon_threadsafe(self._zone_retry_later, group, launch, tags)

    def _zone_retry_later(self, group: Any, launch: Launcher, tags: dict[str, str]) -> None:
        # sampled on the loop thread, like every other delay: a seeded run stays reproducible
        self._later(self._delay(ICE_RETRY_DELAY), self._zone_retry_due, group, launch, tags)

    def _zone_retry_due(self, group: Any, launch: Launcher, tags: dict[str, str]) -> None:
        self._control.submit(self._zone_retry, group, launch, tags).add_done_callback(_log_failure)

    def _zone_retry(self, group: Any, launch: Launcher, tags: dict[str, str]) -> None:
        with self._lock:
            self._zone_retries.discard(group.name)
        needed = (group.desired_capacity or 0) - len(moto_state.live_members(group))
        if needed <= 0 or group.autoscaling_backend.autoscaling_groups.get(group.name) is not group:
            with self._lock:
                self._zone_waits.pop(group.name, None)
            return
        self.launch(group, launch, needed, tags)

    # --- Spot groups (any thread but the loop's: moto's request threads, the control worker) ---

    def _launch_spot(self, group: Any, launch: Launcher, count: int, tags: dict[str, str],
                     types: list[str]) -> None:
        with self._lock:
            shortage = self._shortages.get(group.name)
            if shortage is not None and shortage.retry_pending:
                return  # the pending retry launches whatever the group still needs
        for _ in range(count):
            if not self._launch_one_spot(group, launch, tags, types):
                return

    def _launch_one_spot(self, group: Any, launch: Launcher, tags: dict[str, str], types: list[str]) -> bool:
        candidates = self._pools(group, types)
        with self._lock:
            shortage = self._shortages.setdefault(group.name, _Shortage())
            if not shortage.candidates:
                shortage.candidates = candidates
            candidates = shortage.candidates
            untried = [c for c in candidates if c[0] not in shortage.failed]
            if not untried:  # every pool failed this round: start over, capacity may be back
                shortage.failed.clear()
                untried = candidates
            pool, subnet = untried[0]
            shortage.attempts += 1
            attempt = shortage.attempts
        if not self._capacity.has_capacity(pool) or self._zones.lost(pool.availability_zone):
            self._capacity_error(group, launch, tags, types, pool, subnet, attempt)
            return False
        with self._lock:
            self._shortages.pop(group.name, None)
        for instance in self._launch_into(group, launch, tags, pool, subnet):
            moto_state.make_spot(instance, pool.instance_type)
            self._events.emit(SPOT_FULFILLED, instance.id, asg=group.name, instance=instance.id,
                              instance_type=pool.instance_type, availability_zone=pool.availability_zone,
                              subnet=subnet, attempt=attempt)
        return True

    def _capacity_error(self, group: Any, launch: Launcher, tags: dict[str, str], types: list[str],
                        pool: Pool, subnet: str | None, attempt: int) -> None:
        self._events.emit(CAPACITY_ERROR, group.name, asg=group.name, instance_type=pool.instance_type,
                          availability_zone=pool.availability_zone, subnet=subnet, attempt=attempt,
                          error="InsufficientInstanceCapacity")
        with self._lock:
            shortage = self._shortages[group.name]
            shortage.failed.add(pool)
            if attempt >= MAX_LAUNCH_ATTEMPTS:
                del self._shortages[group.name]
            else:
                shortage.retry_pending = True
        if attempt >= MAX_LAUNCH_ATTEMPTS:
            self._events.emit(ASG_LAUNCH_ABANDONED, group.name, asg=group.name, attempts=attempt)
            return
        self._loop.call_soon_threadsafe(self._retry_later, group, launch, tags, types)

    def _retry_later(self, group: Any, launch: Launcher, tags: dict[str, str], types: list[str]) -> None:
        # sampled on the loop thread, like every other delay: a seeded run stays reproducible
        self._later(self._delay(ICE_RETRY_DELAY), self._retry_due, group, launch, tags, types)

    def _retry_due(self, group: Any, launch: Launcher, tags: dict[str, str], types: list[str]) -> None:
        future = self._control.submit(self._retry, group, launch, tags, types)
        future.add_done_callback(_log_failure)

    def _retry(self, group: Any, launch: Launcher, tags: dict[str, str], types: list[str]) -> None:
        with self._lock:
            shortage = self._shortages.get(group.name)
            if shortage is not None:
                shortage.retry_pending = False
        needed = (group.desired_capacity or 0) - len(moto_state.live_members(group))
        still_exists = group.autoscaling_backend.autoscaling_groups.get(group.name) is group
        if needed <= 0 or not still_exists:
            with self._lock:
                self._shortages.pop(group.name, None)
            return
        self._launch_spot(group, launch, needed, tags, types)

    def _pools(self, group: Any, types: list[str]) -> list[tuple[Pool, str | None]]:
        """Every (pool, subnet) in the order the group tries them: AZ balance first, then type priority."""
        subnets = [s.strip() for s in (group.vpc_zone_identifier or "").split(",") if s.strip()]
        if subnets:
            alive = Counter(st.instance.subnet_id for st in moto_state.live_members(group))
            order = {subnet: self._rng.random() for subnet in subnets}
            subnets.sort(key=lambda s: (alive.get(s, 0), order[s]))
            return [(Pool(t, moto_state.subnet_zone(group, s)), s) for s in subnets for t in types]
        return [(Pool(t, str(zone)), None) for zone in group.availability_zones for t in types]

    def _launch_into(self, group: Any, launch: Launcher, tags: dict[str, str], pool: Pool,
                     subnet: str | None) -> list[Any]:
        """moto launches into the first subnet listed (or a random one of the group's zones)."""
        before = {st.instance.id for st in group.instance_states}
        saved = group.vpc_zone_identifier, group.availability_zones
        try:
            if subnet is not None:
                group.vpc_zone_identifier = ",".join([subnet, *(s for s in saved[0].split(",") if s != subnet)])
            else:
                group.availability_zones = [pool.availability_zone]
            launch(1, dict(tags))
        finally:
            group.vpc_zone_identifier, group.availability_zones = saved
        return [st.instance for st in group.instance_states if st.instance.id not in before]


def _noting_configuration(group: Any, launch: Launcher) -> Launcher:
    """moto forgets which launch configuration an instance came from; the termination policies ask."""
    configuration = group.launch_config
    if configuration is None:
        return launch

    def launch_and_note(count: int, tags: dict[str, str]) -> None:
        before = {id(st) for st in group.instance_states}
        launch(count, tags)
        for st in group.instance_states:
            if id(st) not in before:
                moto_state.note_launch_configuration(st.instance, configuration)
    return launch_and_note


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("Auto Scaling replacement failed", exc_info=future.exception())
