"""An experiment's targets resolved to moto's objects: by ARN or by tags, then filters, then the selection mode.

Resolved once, when the experiment starts, as FIS does. `selectionMode` COUNT(n) and PERCENT(n) take the
first resources by id where FIS picks at random: a localcloud run stays reproducible.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.ec2 import moto_state

SPOT_INSTANCE = "aws:ec2:spot-instance"
AUTOSCALING_GROUP = "aws:ec2:autoscaling-group"
_SELECTION = re.compile(r"ALL|COUNT\((\d+)\)|PERCENT\((\d+)\)")
_INSTANCE_ARN = re.compile(r"arn:[\w-]+:ec2:[\w-]*:\d*:instance/(i-[0-9a-f]+)")
_GROUP_ARN = re.compile(r"arn:[\w-]+:autoscaling:[\w-]*:\d*:autoScalingGroup:[^:]*:autoScalingGroupName/(.+)")

# FIS filters name a path in the resource's Describe output; these are the paths localcloud can read.
_INSTANCE_PATHS: Mapping[str, Callable[[Any], str | None]] = {
    "State.Name": moto_state.state,
    "Placement.AvailabilityZone": lambda i: str(i.placement.zone),
    "InstanceType": lambda i: str(i.instance_type),
    "SubnetId": lambda i: i.subnet_id,
    "VpcId": lambda i: getattr(i, "vpc_id", None),
    "InstanceLifecycle": lambda i: getattr(i, "lifecycle", None),
}
_GROUP_PATHS: Mapping[str, Callable[[Any], str | None]] = {
    "AutoScalingGroupName": lambda g: str(g.name),
}


class TargetError(ValueError):
    """The target cannot be resolved; the message is the experiment's failure reason."""


def resolve(name: str, target: Mapping[str, Any], account: str, region: str) -> list[Any]:
    """The moto objects target `name` selects (instances or Auto Scaling groups), sorted by id."""
    from moto.backends import get_backend

    kind = target.get("resourceType")
    if target.get("parameters"):
        raise TargetError(f"target {name}: localcloud resolves targets by resourceArns or resourceTags, "
                          "not by parameters")
    if kind == SPOT_INSTANCE:
        ec2 = get_backend("ec2")[account][region]
        found = _select_by(target, ec2.all_instances(), _INSTANCE_ARN, lambda i: str(i.id), moto_state.tags,
                           _INSTANCE_PATHS, name)
        # FIS interrupts running Spot instances only; a stopped or On-Demand one is no target of this type.
        found = [i for i in found if moto_state.is_spot(i) and moto_state.state(i) in ("pending", "running")]
        key: Callable[[Any], str] = lambda i: str(i.id)  # noqa: E731
    elif kind == AUTOSCALING_GROUP:
        groups = list(get_backend("autoscaling")[account][region].autoscaling_groups.values())
        found = _select_by(target, groups, _GROUP_ARN, lambda g: str(g.name), _group_tags, _GROUP_PATHS, name)
        key = lambda g: str(g.name)  # noqa: E731
    else:
        raise TargetError(f"target {name}: localcloud resolves {SPOT_INSTANCE} and {AUTOSCALING_GROUP} targets, "
                          f"not {kind}")
    return _selection(sorted(found, key=key), str(target.get("selectionMode") or "ALL"), name)


def _select_by(target: Mapping[str, Any], resources: list[Any], arn: re.Pattern[str], ident: Callable[[Any], str],
               tags: Callable[[Any], dict[str, str]], paths: Mapping[str, Callable[[Any], str | None]],
               name: str) -> list[Any]:
    arns, wanted = target.get("resourceArns") or [], target.get("resourceTags") or {}
    if bool(arns) == bool(wanted):
        raise TargetError(f"target {name}: give resourceArns or resourceTags (one of them)")
    if arns:
        ids = set()
        for value in arns:
            match = arn.fullmatch(str(value))
            if match is None:
                raise TargetError(f"target {name}: {value} is not an ARN of a {target.get('resourceType')}")
            ids.add(match.group(1))
        chosen = [r for r in resources if ident(r) in ids]
    else:
        chosen = [r for r in resources if all(tags(r).get(k) == v for k, v in wanted.items())]
    for spec in target.get("filters") or []:
        read = paths.get(str(spec.get("path")))
        if read is None:
            raise TargetError(f"target {name}: localcloud filters on {', '.join(paths)}, not {spec.get('path')}")
        values = {str(v) for v in spec.get("values") or []}
        chosen = [r for r in chosen if read(r) in values]
    return chosen


def _group_tags(group: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in group.tags}


def _selection(found: list[Any], mode: str, name: str) -> list[Any]:
    match = _SELECTION.fullmatch(mode)
    if match is None:
        raise TargetError(f"target {name}: selectionMode {mode!r} is not ALL, COUNT(n) or PERCENT(n)")
    count, percent = match.groups()
    if count is not None:
        return found[:int(count)]
    if percent is not None:
        return found[:math.ceil(len(found) * min(int(percent), 100) / 100)]
    return found
