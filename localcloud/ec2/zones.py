"""Availability zones that are lost: what EC2 and Auto Scaling do while a zone is unavailable.

The control API takes a zone away (`POST /zones/<az>/unavailable`) and gives it back (`…/available`). While a
zone is lost:

- its instances are impaired: everything they ran dies and every address of theirs black-holes, as in a power
  loss, while EC2 still reports them `running` (`localcloud.instance.impaired`);
- a group's members there fail their status checks: the group marks them Unhealthy after `asg.detect_impaired`
  (it waits a few minutes for AWS to repair an impaired instance), then terminates and replaces them;
- groups launch only into their subnets in other zones; a group left with none gets InsufficientInstanceCapacity
  and tries again every `ec2.ice_retry`, until the zone is back;
- the zone's EBS volumes stay in it, data and all: attaching one to an instance in another zone is refused
  (`InvalidVolume.ZoneMismatch`).

Given back, the zone takes launches again. An impaired instance stays down (its group has replaced it; one that
no group owns is left for its owner to replace).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.net.http import Handler, Request, Response, text

ZONE_LOST = "localcloud.zone.lost"  # an availability zone became unavailable (control API)
ZONE_RESTORED = "localcloud.zone.restored"
INSTANCE_IMPAIRED = "localcloud.instance.impaired"  # an instance of a lost zone: down, still `running` in EC2
_ZONE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d[a-z]")  # us-east-1a
_PATH = re.compile(r"/zones/([^/]+)/([^/]+)")
USAGE = "GET /zones | POST /zones/<az>/unavailable|available\n"


class ZoneOutages:
    """The zones that are lost; read from moto's threads and the loop, written by the control API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lost: set[str] = set()

    def lost(self, zone: str) -> bool:
        with self._lock:
            return zone in self._lost

    def set_lost(self, zone: str, lost: bool) -> bool:
        """True when this changed the zone's state."""
        with self._lock:
            before = zone in self._lost
            if lost:
                self._lost.add(zone)
            else:
                self._lost.discard(zone)
            return before != lost

    def lost_zones(self) -> list[str]:
        with self._lock:
            return sorted(self._lost)


def instances_in(zone: str) -> list[Any]:
    """moto's instances placed in `zone` that are pending or running."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][zone[:-1]]
    return [inst for inst in backend.all_instances()
            if str(inst.placement.zone) == zone and moto_state.state(inst) in ("pending", "running")]


def group_members(instances: list[Any]) -> dict[str, Any]:
    """instance id -> the Auto Scaling InstanceState holding it, for those that belong to a group."""
    from moto.autoscaling import autoscaling_backends

    found: dict[str, Any] = {}
    for inst in instances:
        backend = autoscaling_backends[inst.ec2_backend.account_id][inst.ec2_backend.region_name]
        for group in list(backend.autoscaling_groups.values()):
            for member in list(group.instance_states):
                if member.instance.id == inst.id:
                    found[inst.id] = member
    return found


def zone_control(lose: Any, restore: Any, outages: ZoneOutages) -> Handler:
    """The control API's `/zones` routes (loop thread): `lose(zone)` and `restore(zone)` act on the cloud."""
    def listing() -> Response:
        return Response(200, json.dumps({"unavailable": outages.lost_zones()}).encode(),
                        content_type="application/json")

    def handle(request: Request) -> Response:
        if request.path in ("/zones", "/zones/"):
            return listing() if request.method in ("GET", "HEAD") else text(405, USAGE)
        if request.method != "POST":
            return text(405, USAGE)
        found = _PATH.fullmatch(request.path)
        if found is None:
            return text(404, USAGE)
        zone, state = found.groups()
        if not _ZONE.fullmatch(zone):
            return text(400, f"{zone!r} is not an availability zone (like us-east-1a)\n")
        if state not in ("available", "unavailable"):
            return text(400, f"{state!r}: a zone is 'available' or 'unavailable'\n")
        (restore if state == "available" else lose)(zone)
        return listing()

    return handle
