"""Spot: which pools have capacity, and interruptions with their IMDS notices.

`SpotCapacity` is the table the control API writes ("no Spot capacity for t3.micro in us-east-1a")
and Auto Scaling reads when it picks a pool. `SpotInterruptions` interrupts one Spot instance as
EC2 does: the rebalance recommendation and the interruption notice appear in its IMDS at once, and
the lead time later the instance is terminated through EC2's own TerminateInstances path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.ec2.instances import Fleet
from localcloud.events import SPOT_INTERRUPTED, SPOT_INTERRUPTION_NOTICE, SPOT_REBALANCE, EventLog
from localcloud.net.http import Handler, Request, Response, text

log = logging.getLogger(__name__)

LEAD_DELAY = "spot.itn_lead"
MAX_LEAD_S = 3600.0


@dataclass(frozen=True, order=True)
class Pool:
    instance_type: str
    availability_zone: str

    def to_dict(self) -> dict[str, str]:
        return {"instance_type": self.instance_type, "availability_zone": self.availability_zone}


class SpotCapacity:
    """Pools declared out of Spot capacity; read from moto's threads, written from the control API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exhausted: set[Pool] = set()

    def set_available(self, pool: Pool, available: bool) -> None:
        with self._lock:
            if available:
                self._exhausted.discard(pool)
            else:
                self._exhausted.add(pool)

    def has_capacity(self, pool: Pool) -> bool:
        with self._lock:
            return pool not in self._exhausted

    def exhausted(self) -> list[Pool]:
        with self._lock:
            return sorted(self._exhausted)


class InterruptRefused(ValueError):
    """The instance cannot be interrupted; `status` is the HTTP status the control API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Interruption:
    instance_id: str
    notice_time: float  # epoch seconds
    termination_time: float
    lead_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "notice_time": _iso(self.notice_time),
                "termination_time": _iso(self.termination_time), "lead_seconds": self.lead_seconds}


class SpotInterruptions:
    """Loop thread only. The termination itself runs on the control worker (it is a moto call)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fleet: Fleet, events: EventLog,
                 delay: Callable[[str], float], control: Executor, now: Callable[[], float] = time.time) -> None:
        self._loop = loop
        self._fleet = fleet
        self._events = events
        self._delay = delay
        self._control = control
        self._now = now
        self._pending: dict[str, asyncio.TimerHandle] = {}

    def interrupt(self, instance_id: str, lead_seconds: float | None = None) -> Interruption:
        """Notice now, termination `lead_seconds` later (default: the profile's `spot.itn_lead`)."""
        if lead_seconds is not None and not (math.isfinite(lead_seconds) and 0 <= lead_seconds <= MAX_LEAD_S):
            raise InterruptRefused(400, f"lead_seconds must be between 0 and {MAX_LEAD_S:.0f}")
        instance = self._fleet.instance_of(instance_id)
        imds = self._fleet.imds_of(instance_id)
        if instance is None or imds is None:
            raise InterruptRefused(404, f"no instance {instance_id}")
        if not moto_state.is_spot(instance):
            raise InterruptRefused(400, f"{instance_id} is not a Spot instance")
        if moto_state.state(instance) not in ("pending", "running"):
            raise InterruptRefused(400, f"{instance_id} is {moto_state.state(instance)}, not running")
        if instance_id in self._pending:
            raise InterruptRefused(409, f"{instance_id} already has an interruption notice")
        lead = self._delay(LEAD_DELAY) if lead_seconds is None else lead_seconds
        now = self._now()
        interruption = Interruption(instance_id, now, now + lead, lead)
        imds.spot_notice(notice_time=now, termination_time=now + lead)
        asg = moto_state.asg_name(instance)
        self._events.emit(SPOT_REBALANCE, instance_id, notice_time=_iso(now), asg=asg)
        self._events.emit(SPOT_INTERRUPTION_NOTICE, instance_id, action="terminate",
                          termination_time=_iso(now + lead), lead_seconds=lead, asg=asg)
        self._pending[instance_id] = self._loop.call_later(lead, self._interrupted, instance)
        return interruption

    def _interrupted(self, instance: Any) -> None:
        self._pending.pop(instance.id, None)
        if moto_state.state(instance) not in ("pending", "running"):
            return  # terminated or stopped during the notice: nothing left to interrupt
        self._events.emit(SPOT_INTERRUPTED, instance.id, action="terminate", asg=moto_state.asg_name(instance))
        future = self._control.submit(moto_state.terminate, instance)
        future.add_done_callback(_log_failure)

    def close(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("Spot interruption failed", exc_info=future.exception())


# --- the control API's Spot routes (loop thread) ---

_POOL_PATH = re.compile(r"/spot/capacity/([^/]+)/([^/]+)/([^/]+)")
_ZONE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d[a-z]")  # us-east-1a
_INSTANCE_TYPE = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+")  # t3.micro
_INTERRUPT_PATH = re.compile(r"/spot/(i-[0-9a-f]+)/interrupt")
USAGE = ("GET /spot/capacity | POST /spot/capacity/<az>/<instance-type>/unavailable|available "
         "| POST /spot/<instance-id>/interrupt[?lead_seconds=N]\n")


def spot_control(capacity: SpotCapacity, interruptions: SpotInterruptions) -> Handler:
    def listing() -> Response:
        return _json({"unavailable": [pool.to_dict() for pool in capacity.exhausted()]})

    def handle(request: Request) -> Response:
        if request.path == "/spot/capacity":
            return listing() if request.method in ("GET", "HEAD") else text(405, "GET /spot/capacity\n")
        if request.method != "POST":
            return text(405, USAGE)
        pool = _POOL_PATH.fullmatch(request.path)
        if pool is not None:
            zone, instance_type, state = pool.groups()
            if not _ZONE.fullmatch(zone):
                return text(400, f"{zone!r} is not an availability zone (like us-east-1a)\n")
            if not _INSTANCE_TYPE.fullmatch(instance_type):
                return text(400, f"{instance_type!r} is not an instance type (like t3.micro)\n")
            if state not in ("available", "unavailable"):
                return text(400, f"{state!r}: the capacity is 'available' or 'unavailable'\n")
            capacity.set_available(Pool(instance_type, zone), state == "available")
            return listing()
        interrupt = _INTERRUPT_PATH.fullmatch(request.path)
        if interrupt is None:
            return text(404, USAGE)
        try:
            lead = float(request.query["lead_seconds"]) if "lead_seconds" in request.query else None
        except ValueError:
            return text(400, "lead_seconds must be a number\n")
        try:
            return _json(interruptions.interrupt(interrupt.group(1), lead).to_dict())
        except InterruptRefused as refused:
            return text(refused.status, f"{refused}\n")

    return handle


def _json(data: Any) -> Response:
    return Response(200, json.dumps(data).encode(), content_type="application/json")
