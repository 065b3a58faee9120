"""Reverts as data: a registry of idempotent functions, so a journal can be replayed after a crash.

Every revert reads the current state first and changes only what still differs from the recorded one;
a resource that is gone (its stack deleted) leaves nothing to restore. Running one twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.faults.az_nacl import restore_nacl_associations
from gameday.faults.az_security_groups import restore_ingress, restore_interface_groups
from gameday.faults.backend_switch import restore_record, start_instance
from gameday.faults.bucket_policy import restore_bucket_policy
from gameday.faults.composite import revert_composite
from gameday.faults.ecs_service import restore_desired_count
from gameday.faults.fis import STOP_KIND, stop_fis_experiments
from gameday.faults.objects_missing import restore_objects
from gameday.faults.region_unreachable import restore_region
from gameday.faults.spot import restore_spot_capacity

RevertFn = Callable[[Backend, Mapping[str, Any]], None]


def restore_asg_capacity(backend: Backend, params: Mapping[str, Any]) -> None:
    """Put an Auto Scaling group's min/max/desired back as recorded (a no-op when already so)."""
    autoscaling = backend.client("autoscaling")
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[params["group"]])
    if not groups["AutoScalingGroups"]:
        return  # the stack is gone with its group: nothing left to restore
    group = groups["AutoScalingGroups"][0]
    wanted = {"MinSize": int(params["min"]), "MaxSize": int(params["max"]),
              "DesiredCapacity": int(params["desired"])}
    if any(group[key] != value for key, value in wanted.items()):
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=params["group"], **wanted)


def nothing(backend: Backend, params: Mapping[str, Any]) -> None:
    """For faults whose effect heals by design and leaves no setting behind."""


REVERTS: dict[str, RevertFn] = {
    "asg.restore-capacity": restore_asg_capacity,
    "ec2.restore-interface-groups": restore_interface_groups,
    "ec2.restore-ingress": restore_ingress,
    "ec2.restore-nacl-associations": restore_nacl_associations,
    "ec2.start-instance": start_instance,
    "route53.restore-record": restore_record,
    "ecs.restore-desired-count": restore_desired_count,
    "s3.restore-bucket-policy": restore_bucket_policy,
    "s3.restore-objects": restore_objects,
    "localcloud.region-reachable": restore_region,
    "localcloud.spot-capacity": restore_spot_capacity,
    STOP_KIND: stop_fis_experiments,
    "composite": revert_composite,
    "none": nothing,
}


def run_revert(backend: Backend, kind: str, params: Mapping[str, Any]) -> None:
    try:
        revert = REVERTS[kind]
    except KeyError:
        raise ConfigError(f"unknown revert kind {kind!r} in journal (known: {', '.join(REVERTS)})") from None
    try:
        revert(backend, params)
    except (KeyError, TypeError) as exc:  # a journal line edited by hand, or from another version
        raise ConfigError(f"revert {kind}: journal parameters are malformed ({type(exc).__name__}: {exc})") from exc
