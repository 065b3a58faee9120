"""Reverts as data: a registry of idempotent functions, so a journal can be replayed after a crash.

Every revert reads the current state first and changes only what still differs from the recorded one;
a resource that is gone (its stack deleted) leaves nothing to restore. Running one twice is harmless.

Beside each revert, what it would touch (`TARGETS`): the live resources, read fresh, with the identity
recorded at inject checked, so `gameday rollback` can put a journal line through the blast-radius guard
before it acts, as `injected` does with a fault's plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.faults import identity
from gameday.faults.az_nacl import nacl_targets, restore_nacl_associations
from gameday.faults.az_security_groups import (
    ingress_targets,
    interface_groups_targets,
    restore_ingress,
    restore_interface_groups,
)
from gameday.faults.backend_switch import record_targets, restore_record, start_instance, start_instance_targets
from gameday.faults.bucket_policy import bucket_policy_targets, restore_bucket_policy
from gameday.faults.composite import revert_composite
from gameday.faults.ecs_service import desired_count_targets, restore_desired_count
from gameday.faults.fis import STOP_KIND, stop_fis_experiments
from gameday.faults.objects_missing import objects_targets, restore_objects
from gameday.faults.plan import Target
from gameday.faults.port_fault import replace_instance, replace_targets, resume_port
from gameday.faults.region_unreachable import restore_region
from gameday.faults.resources import tags_of
from gameday.faults.spot import restore_spot_capacity
from gameday.faults.zone_lost import restore_zone

RevertFn = Callable[[Backend, Mapping[str, Any]], None]
TargetsFn = Callable[[Backend, Mapping[str, Any]], tuple[Target, ...]]


def _live_group(backend: Backend, params: Mapping[str, Any]) -> dict[str, Any] | None:
    groups = backend.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[str(params["group"])])["AutoScalingGroups"]
    if not groups:
        return None  # the stack is gone with its group: nothing left to restore
    identity.check_asg(params, groups[0])  # a group of the same name created since is not the fault's
    return dict(groups[0])


def restore_asg_capacity(backend: Backend, params: Mapping[str, Any]) -> None:
    """Put an Auto Scaling group's min/max/desired back as recorded (a no-op when already so)."""
    group = _live_group(backend, params)
    if group is None:
        return
    wanted = {"MinSize": int(params["min"]), "MaxSize": int(params["max"]),
              "DesiredCapacity": int(params["desired"])}
    if any(group[key] != value for key, value in wanted.items()):
        backend.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=params["group"], **wanted)


def asg_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    group = _live_group(backend, params)
    if group is None:
        return ()
    return (Target("autoscaling:group", group["AutoScalingGroupName"], tags_of(group.get("Tags")),
                   aliases=tuple(filter(None, [group.get("AutoScalingGroupARN")]))),)


def nothing(backend: Backend, params: Mapping[str, Any]) -> None:
    """For faults whose effect heals by design and leaves no setting behind."""


def no_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """Reverts that touch only what the fault itself created and tagged with its token (FIS experiments),
    or localcloud's own control plane: nothing of the account's to place in a blast radius."""
    return ()


def composite_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    return tuple(t for part in params.get("reverts", [])
                 for t in revert_targets(backend, str(part["kind"]), dict(part.get("params", {}))))


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
    "localcloud.zone-available": restore_zone,
    "localcloud.port-resume": resume_port,
    "asg.replace-instance": replace_instance,
    STOP_KIND: stop_fis_experiments,
    "composite": revert_composite,
    "none": nothing,
}

TARGETS: dict[str, TargetsFn] = {
    "asg.restore-capacity": asg_targets,
    "ec2.restore-interface-groups": interface_groups_targets,
    "ec2.restore-ingress": ingress_targets,
    "ec2.restore-nacl-associations": nacl_targets,
    "ec2.start-instance": start_instance_targets,
    "route53.restore-record": record_targets,
    "ecs.restore-desired-count": desired_count_targets,
    "s3.restore-bucket-policy": bucket_policy_targets,
    "s3.restore-objects": objects_targets,
    "localcloud.region-reachable": no_targets,
    "localcloud.spot-capacity": no_targets,
    "localcloud.zone-available": no_targets,
    "localcloud.port-resume": no_targets,
    "asg.replace-instance": replace_targets,
    STOP_KIND: no_targets,
    "composite": composite_targets,
    "none": no_targets,
}


def run_revert(backend: Backend, kind: str, params: Mapping[str, Any]) -> None:
    try:
        revert = REVERTS[kind]
    except KeyError:
        raise ConfigError(f"unknown revert kind {kind!r} in journal (known: {', '.join(REVERTS)})") from None
    try:
        revert(backend, params)
    except (KeyError, TypeError, ValueError) as exc:  # a journal line edited by hand, or from another version
        raise ConfigError(f"revert {kind}: journal parameters are malformed ({type(exc).__name__}: {exc})") from exc


def revert_targets(backend: Backend, kind: str, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """What the revert would touch now (read live; gone resources left out). Changes nothing. Raises
    `IdentityRefused` when a resource is not the one its fault touched."""
    if kind not in TARGETS:
        raise ConfigError(f"unknown revert kind {kind!r} in journal (known: {', '.join(TARGETS)})")
    try:
        return TARGETS[kind](backend, params)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"revert {kind}: journal parameters are malformed ({type(exc).__name__}: {exc})") from exc
