"""Auto Scaling as it behaves on AWS, over moto's bookkeeping.

moto replaces a terminated group member inside the TerminateInstances call. Here the group first
notices (`asg.detect_not_running`: the instance is marked Unhealthy), then launching takes
`ec2.run_instances_api`, and only then does moto's own replacement run (on the control worker, not
on the data plane). Launches are spread over the group's subnets, fewest instances first, as the
AZ rebalancing of a real group does (moto puts every instance in the first subnet).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from localcloud.events import ASG_UNHEALTHY, EventLog

log = logging.getLogger(__name__)

DETECT_DELAY = "asg.detect_not_running"
LAUNCH_DELAY = "ec2.run_instances_api"
_GONE = ("shutting-down", "terminated")


class AutoScaling:
    """`terminated` runs on the loop thread; `launch` on whichever thread moto launches from."""

    def __init__(self, loop: asyncio.AbstractEventLoop, events: EventLog, delay: Callable[[str], float],
                 control: Executor, rng: random.Random) -> None:
        self._loop = loop
        self._events = events
        self._delay = delay
        self._control = control
        self._rng = rng
        self._timers: set[asyncio.TimerHandle] = set()

    def terminated(self, members: dict[str, Any], replace: Callable[[], None]) -> None:
        """`members`: instance id -> moto's ASG InstanceState, for the terminated group members."""
        self._later(self._delay(DETECT_DELAY), self._detected, members, replace)

    def _detected(self, members: dict[str, Any], replace: Callable[[], None]) -> None:
        for instance_id, state in members.items():
            state.health_status = "Unhealthy"
            self._events.emit(ASG_UNHEALTHY, instance_id, asg=state.auto_scaling_group_name,
                              instance=instance_id, reason="instance not running")
        self._later(self._delay(LAUNCH_DELAY), self._replace, replace)

    def _replace(self, replace: Callable[[], None]) -> None:
        future = self._control.submit(replace)
        future.add_done_callback(_log_failure)

    def _later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            fn(*args)
        handle = self._loop.call_later(delay, fire)
        self._timers.add(handle)

    def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def launch(self, group: Any, launch: Callable[[int, dict[str, str]], None], count: int,
               tags: dict[str, str]) -> None:
        subnets = [s.strip() for s in (group.vpc_zone_identifier or "").split(",") if s.strip()]
        if len(subnets) < 2:
            launch(count, tags)
            return
        order = {subnet: self._rng.random() for subnet in subnets}  # ties broken at random, as AWS does
        saved = group.vpc_zone_identifier
        try:
            for _ in range(count):
                alive = Counter(st.instance.subnet_id for st in group.instance_states
                                if st.instance._state.name not in _GONE)
                chosen = min(subnets, key=lambda s: (alive.get(s, 0), order[s]))
                group.vpc_zone_identifier = ",".join([chosen, *(s for s in subnets if s != chosen)])
                launch(1, dict(tags))  # moto launches into the first subnet listed
        finally:
            group.vpc_zone_identifier = saved


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("Auto Scaling replacement failed", exc_info=future.exception())
