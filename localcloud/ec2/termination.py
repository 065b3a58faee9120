"""Which members a group terminates when it scales in (moto takes the first ones in its list).

As AWS documents it: Availability Zone balance comes before any policy (only the zones with the most
members are considered); then the group's termination policies apply in order, each breaking the
previous one's tie, and a tie left at the end is broken at random. `Default` is the allocation strategy
(mixed instances groups), then the most outdated launch template or configuration, then the instance
closest to its next billing hour. Members protected from scale in are never chosen, though they count
toward their zone's size; a policy localcloud does not know (a Lambda function's ARN) is skipped.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from localcloud.ec2 import moto_state

BILLING_HOUR_S = 3600.0


@dataclass(frozen=True)
class Candidate:
    """A group member as the termination policies see it."""

    instance_id: str
    zone: str
    launched: float  # epoch seconds
    protected: bool = False
    # Sorts the most outdated first: (0, age) a launch configuration that is not the group's current one,
    # (1, age) a launch template that is not the group's, (2, version) the group's current template or configuration.
    configuration: tuple[int, float] = (2, 0.0)
    type_priority: int = 0  # position of its type among a mixed instances group's overrides (0: first choice)


Policy = Callable[[list[Candidate], float], list[Candidate]]


def _keep_least(key: Callable[[Candidate, float], Any]) -> Policy:
    def policy(candidates: list[Candidate], now: float) -> list[Candidate]:
        least = min(key(c, now) for c in candidates)
        return [c for c in candidates if key(c, now) == least]
    return policy


def _to_next_hour(candidate: Candidate, now: float) -> float:
    return BILLING_HOUR_S - (now - candidate.launched) % BILLING_HOUR_S


def _in_order(*policies: Policy) -> Policy:
    def policy(candidates: list[Candidate], now: float) -> list[Candidate]:
        for each in policies:
            if len(candidates) < 2:
                break
            candidates = each(candidates, now)
        return candidates
    return policy


_outdated = _keep_least(lambda c, now: c.configuration)
_allocation_strategy = _keep_least(lambda c, now: -c.type_priority)  # the lowest-priority type goes first
_closest_to_next_hour = _keep_least(_to_next_hour)

POLICIES: dict[str, Policy] = {
    "OldestInstance": _keep_least(lambda c, now: c.launched),
    "NewestInstance": _keep_least(lambda c, now: -c.launched),
    "OldestLaunchTemplate": _outdated,
    "OldestLaunchConfiguration": _outdated,
    "ClosestToNextInstanceHour": _closest_to_next_hour,
    "AllocationStrategy": _allocation_strategy,
    "Default": _in_order(_allocation_strategy, _outdated, _closest_to_next_hour),
}


def pick(members: Sequence[Candidate], count: int, policies: Sequence[str], now: float,
         rng: random.Random) -> list[Candidate]:
    """Up to `count` members to terminate, one at a time: each choice changes the zone balance for the next."""
    remaining, chosen = list(members), []
    for _ in range(count):
        candidates = _most_crowded_zones(remaining)
        for name in policies:
            if len(candidates) < 2:
                break
            policy = POLICIES.get(name)
            if policy is not None:
                candidates = policy(candidates, now)
        if not candidates:
            break
        victim = candidates[0] if len(candidates) == 1 else rng.choice(candidates)
        chosen.append(victim)
        remaining.remove(victim)
    return chosen


def _most_crowded_zones(members: list[Candidate]) -> list[Candidate]:
    """The unprotected members of the zone(s) with the most members, among zones with an unprotected one."""
    size = Counter(m.zone for m in members)
    open_zones = {m.zone for m in members if not m.protected}
    if not open_zones:
        return []
    largest = max(size[zone] for zone in open_zones)
    return [m for m in members if not m.protected and size[m.zone] == largest]


# --- moto's group members as candidates ---

def choose(group: Any, count: int, rng: random.Random, now: float | None = None) -> list[Any]:
    """The `count` members (moto InstanceStates) a scale-in of `group` terminates, in the order chosen."""
    members = {st.instance.id: st for st in group.active_instances()}
    types = _override_types(group)
    candidates = [_candidate(group, st, types) for st in members.values()]
    chosen = pick(candidates, count, list(group.termination_policies or ["Default"]),
                  time.time() if now is None else now, rng)
    return [members[c.instance_id] for c in chosen]


def _candidate(group: Any, member: Any, types: list[str]) -> Candidate:
    instance = member.instance
    kind = str(instance.instance_type)
    return Candidate(instance_id=str(instance.id), zone=str(instance.placement.zone),
                     launched=moto_state.launch_time(instance).replace(tzinfo=UTC).timestamp(),
                     protected=bool(member.protected_from_scale_in), configuration=_configuration(group, instance),
                     type_priority=types.index(kind) if kind in types else len(types))


def _configuration(group: Any, instance: Any) -> tuple[int, float]:
    template = moto_state.launch_template_of(instance)
    if template is not None:
        template_id, version = template
        current = group.ec2_launch_template
        if current is not None and current.id == template_id:
            return 2, float(version)
        created = moto_state.template_created(instance, template_id)
        return 1, created.replace(tzinfo=UTC).timestamp() if created is not None else 0.0
    configuration = moto_state.launch_configuration_of(instance)
    if configuration is None:
        return 0, 0.0
    if group.launch_config is not None and configuration.name == group.launch_config.name:
        return 2, 0.0
    return 0, configuration.created_time.replace(tzinfo=UTC).timestamp()


def _override_types(group: Any) -> list[str]:
    policy = group.mixed_instances_policy or {}
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    return [str(o["InstanceType"]) for o in overrides if o.get("InstanceType")]
