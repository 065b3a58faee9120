"""Reverts as data: a registry of idempotent functions, so a journal can be replayed after a crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gameday.backends.base import Backend
from gameday.errors import ConfigError

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
    "none": nothing,
}


def run_revert(backend: Backend, kind: str, params: Mapping[str, Any]) -> None:
    try:
        revert = REVERTS[kind]
    except KeyError:
        raise ConfigError(f"unknown revert kind {kind!r} in journal (known: {', '.join(REVERTS)})") from None
    revert(backend, params)
