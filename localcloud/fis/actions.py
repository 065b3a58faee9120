"""What each FIS action does in localcloud, through the physics localcloud's control API drives.

`aws:ec2:send-spot-instance-interruptions` is the control API's `/spot/<id>/interrupt`: rebalance
recommendation and interruption notice in the instance's IMDS at once, termination the notice's lead
later. AWS takes `durationBeforeInterruption` (PT2M..PT15M) in its own time; localcloud scales it as its
time profile scales the two-minute notice (`spot.itn_lead`), so PT2M is exactly the profile's notice.

`aws:ec2:asg-insufficient-instance-capacity-error` is the control API's capacity table: the group's
instance types in the given zones have no capacity until the action's `duration` ends or the experiment
is stopped. That duration is the experimenter's window, not a delay of AWS's, so it is not scaled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.ec2.spot import InterruptRefused, Pool, SpotCapacity

SPOT_INTERRUPTIONS = "aws:ec2:send-spot-instance-interruptions"
INSUFFICIENT_CAPACITY = "aws:ec2:asg-insufficient-instance-capacity-error"
AWS_NOTICE_S = 120.0  # EC2's two-minute Spot interruption notice: what the profile's spot.itn_lead scales
NOTICE_RANGE_S = (120.0, 900.0)  # FIS: durationBeforeInterruption from PT2M to PT15M
MAX_DURATION_S = 12 * 3600.0  # FIS: an action lasts at most twelve hours
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


class ActionFailed(ValueError):
    """The action cannot run; the message is the experiment's failure reason."""


@dataclass(frozen=True)
class Physics:
    """What the actions act through; called from a worker thread, never the data-plane loop's."""

    interrupt: Callable[[str, float | None], float]  # instance id, lead (None: the profile's notice) -> the lead
    capacity: SpotCapacity
    notice_scale: float  # the profile's Spot notice lead over AWS's 120 s


def nothing() -> None:
    """An action whose effect needs no undoing."""


@dataclass
class Started:
    """A running action: it completes `lasts_s` from now; `end()` undoes what lasts (called once)."""

    lasts_s: float
    end: Callable[[], None] = field(default=nothing)


ActionFn = Callable[[Mapping[str, Any], list[Any], Physics], Started]


def iso_seconds(text: str, what: str) -> float:
    """Seconds of an ISO 8601 duration such as PT2M or PT1H30S."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip() in ("P", "PT") or not any(match.groups()):
        raise ActionFailed(f"{what} {text!r} is not an ISO 8601 duration (like PT2M)")
    days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def send_spot_interruptions(parameters: Mapping[str, Any], instances: list[Any], physics: Physics) -> Started:
    notice_s = iso_seconds(str(parameters.get("durationBeforeInterruption", "PT2M")), "durationBeforeInterruption")
    low, high = NOTICE_RANGE_S
    if not low <= notice_s <= high:
        raise ActionFailed(f"durationBeforeInterruption must be between PT2M and PT15M, not "
                           f"{parameters.get('durationBeforeInterruption')}")
    # PT2M is the notice itself: the profile's own (sampled) value, exactly as the control API's default.
    lead = None if notice_s == AWS_NOTICE_S else notice_s * physics.notice_scale
    leads = []
    for instance in instances:
        try:
            leads.append(physics.interrupt(str(instance.id), lead))
        except InterruptRefused as refused:
            raise ActionFailed(f"cannot interrupt {instance.id}: {refused}") from None
    return Started(max(leads, default=0.0))


def insufficient_capacity(parameters: Mapping[str, Any], groups: list[Any], physics: Physics) -> Started:
    duration = iso_seconds(str(parameters.get("duration", "")), "duration")
    if not 0 < duration <= MAX_DURATION_S:
        raise ActionFailed(f"duration must be more than 0 and at most PT12H, not {parameters.get('duration')}")
    if str(parameters.get("percentage", "100")).strip() != "100":
        raise ActionFailed("localcloud fails every launch of the pool (percentage 100), not a share of them")
    asked = [z.strip() for z in str(parameters.get("availabilityZoneIdentifiers", "")).split(",") if z.strip()]
    if not asked:
        raise ActionFailed("availabilityZoneIdentifiers is required (zone names like us-east-1a, or ids like "
                           "use1-az1)")
    pools: list[Pool] = []
    for group in groups:
        types = moto_state.spot_override_types(group)
        if types is None:
            raise ActionFailed(f"localcloud's capacity errors reach Spot launches only; group {group.name} "
                               "launches On-Demand instances")
        zones = set(_zone_names(group, asked)) & set(_group_zones(group))
        pools += [Pool(t, z) for z in sorted(zones) for t in types]
    taken = [p for p in dict.fromkeys(pools) if physics.capacity.has_capacity(p)]  # not already out: ours to undo
    for pool in taken:
        physics.capacity.set_available(pool, False)

    def end() -> None:
        for pool in taken:
            physics.capacity.set_available(pool, True)
    return Started(duration, end)


def _zone_names(group: Any, asked: list[str]) -> list[str]:
    """Zone ids (use1-az1) as the account's zone names; names stay as they are."""
    by_id = {str(z.zone_id): str(z.name) for z in group.ec2_backend.describe_availability_zones()}
    return [by_id.get(zone, zone) for zone in asked]


def _group_zones(group: Any) -> list[str]:
    subnets = [s.strip() for s in (group.vpc_zone_identifier or "").split(",") if s.strip()]
    if subnets:
        return [moto_state.subnet_zone(group, s) for s in subnets]
    return [str(z) for z in group.availability_zones]


ACTIONS: Mapping[str, ActionFn] = {
    SPOT_INTERRUPTIONS: send_spot_interruptions,
    INSUFFICIENT_CAPACITY: insufficient_capacity,
}
