"""Export a scenario as an AWS FIS experiment template, where FIS has the action.

The JSON is the input of `fis.create_experiment_template` (`aws fis create-experiment-template
--cli-input-json file://x.json`). Faults FIS cannot express are listed with the reason, never dropped
silently; so are stop conditions FIS cannot check (FIS stops only on CloudWatch alarms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gameday.errors import ConfigError
from gameday.kits.kit import FaultSpec, ScenarioSpec

# What FIS cannot do, per gameday fault, in one line each.
UNSUPPORTED: Mapping[str, str] = {
    "block-az-security-groups": "FIS has no security-group action; aws:network:disrupt-connectivity "
                                "(gameday's block-az-nacl) is how FIS cuts off a zone",
    "scale-ecs-service": "FIS has no action that sets an ECS service's desired count; aws:ecs:stop-task stops "
                         "tasks, which the service then replaces (a different fault)",
    "deny-bucket-policy": "FIS has no S3 bucket-policy action",
    "objects-missing": "FIS has no action that deletes S3 objects",
    "region-unreachable": "FIS cannot take a region's S3 endpoint away (aws:network:disrupt-connectivity "
                          "scope s3 cuts off S3 from a subnet, not from CloudFront)",
    "blue-green-switch": "FIS has no Route 53 record action",
    "capacity-thrash": "FIS has no action that sets an Auto Scaling group's capacity (scale it out and back with "
                       "the API, or let Capacity Rebalancing do it)",
    "terminate-in-group": "FIS terminates instances through EC2 (aws:ec2:terminate-instances), never through "
                          "the group, so terminating lifecycle hooks see an instance already gone",
}


ACTION_IDS: Mapping[str, str] = {
    "terminate-instance": "aws:ec2:terminate-instances",
    "spot-interruption": "aws:ec2:send-spot-instance-interruptions",
    "spot-capacity-error": "aws:ec2:asg-insufficient-instance-capacity-error",
    "block-az-nacl": "aws:network:disrupt-connectivity",
    "stop-ecs-task": "aws:ecs:stop-task",
    "backend-loss": "aws:ec2:stop-instances",
}


@dataclass(frozen=True)
class FisContext:
    stack_name: str  # the CloudFormation stack the experiment targets (by its aws:cloudformation tags)
    region: str
    account: str | None = None  # for ARNs; None leaves ACCOUNT_ID to fill in
    role_arn: str | None = None
    az: str | None = None  # for zone faults whose scenario names no zone
    duration: str = "PT5M"  # ISO 8601, for actions that last
    alarms: tuple[str, ...] = ()  # CloudWatch alarm names to stop on, besides the scenario's own

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account or 'ACCOUNT_ID'}:{resource}"


@dataclass(frozen=True)
class FisExport:
    template: dict[str, Any]
    unsupported: tuple[tuple[str, str], ...]  # (fault, why FIS cannot express it)
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Action:
    action_id: str
    target_key: str  # the action's name for its target ("Instances", "Subnets", ...)
    target: dict[str, Any]
    parameters: Mapping[str, str]


def _stack_tags(ctx: FisContext, spec: FaultSpec) -> dict[str, str]:
    """The stack's tags, and the resource's own logical id when the scenario names it (settings logical_id)."""
    tags = {"aws:cloudformation:stack-name": ctx.stack_name}
    if "logical_id" in spec.settings:
        tags["aws:cloudformation:logical-id"] = spec.settings["logical_id"]
    return tags


def _running(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [{"path": "State.Name", "values": ["running"]}, *(extra or [])]


def _terminate(spec: FaultSpec, ctx: FisContext) -> _Action:
    return _Action(ACTION_IDS["terminate-instance"], "Instances",
                   {"resourceType": "aws:ec2:instance", "resourceTags": _stack_tags(ctx, spec), "filters": _running(),
                    "selectionMode": spec.settings.get("selection", "COUNT(1)")}, {})


def _stop(spec: FaultSpec, ctx: FisContext) -> _Action | str:
    if "logical_id" not in spec.settings:
        return ("aws:ec2:stop-instances could do it, but the scenario does not name the instance's logical id "
                "(FaultSpec settings logical_id), so FIS could stop the wrong instance")
    return _Action(ACTION_IDS["backend-loss"], "Instances",
                   {"resourceType": "aws:ec2:instance", "resourceTags": _stack_tags(ctx, spec), "filters": _running(),
                    "selectionMode": "ALL"}, {"startInstancesAfterDuration": spec.settings.get("duration",
                                                                                               ctx.duration)})


def _spot(spec: FaultSpec, ctx: FisContext) -> _Action:
    return _Action(ACTION_IDS["spot-interruption"], "SpotInstances",
                   {"resourceType": "aws:ec2:spot-instance", "resourceTags": _stack_tags(ctx, spec),
                    "filters": _running(), "selectionMode": spec.settings.get("selection", "COUNT(1)")},
                   {"durationBeforeInterruption": spec.settings.get("notice", "PT2M")})


def _no_capacity(spec: FaultSpec, ctx: FisContext) -> _Action:
    az = spec.settings.get("az") or ctx.az
    if not az:
        raise ConfigError(f"{spec.fault} takes capacity away in one availability zone, and the scenario names "
                          "none: pass --az")
    return _Action(ACTION_IDS["spot-capacity-error"], "AutoScalingGroups",
                   {"resourceType": "aws:ec2:autoscaling-group", "resourceTags": _stack_tags(ctx, spec),
                    "selectionMode": "ALL"},
                   {"availabilityZoneIdentifiers": az, "percentage": "100",
                    "duration": spec.settings.get("duration", ctx.duration)})


def _disrupt(spec: FaultSpec, ctx: FisContext) -> _Action:
    az = spec.settings.get("az") or ctx.az
    if not az and "logical_id" not in spec.settings:
        raise ConfigError(f"{spec.fault} cuts off one availability zone, and the scenario names none: pass --az")
    target: dict[str, Any] = {"resourceType": "aws:ec2:subnet", "resourceTags": _stack_tags(ctx, spec),
                              "selectionMode": "ALL"}
    if az:
        target["filters"] = [{"path": "AvailabilityZone", "values": [az]}]
    parameters = {"scope": spec.settings.get("scope", "all"), "duration": spec.settings.get("duration", ctx.duration)}
    return _Action(ACTION_IDS["block-az-nacl"], "Subnets", target, parameters)


def _stop_task(spec: FaultSpec, ctx: FisContext) -> _Action:
    target: dict[str, Any] = {"resourceType": "aws:ecs:task", "selectionMode": spec.settings.get("selection", "ALL")}
    if "cluster" in spec.settings and "service" in spec.settings:
        target["parameters"] = {"cluster": spec.settings["cluster"], "service": spec.settings["service"]}
    else:
        target["resourceTags"] = _stack_tags(ctx, spec)
    return _Action(ACTION_IDS["stop-ecs-task"], "Tasks", target, {})


ACTIONS: Mapping[str, Callable[[FaultSpec, FisContext], _Action | str]] = {
    "terminate-instance": _terminate,
    "backend-loss": _stop,
    "spot-interruption": _spot,
    "spot-capacity-error": _no_capacity,
    "block-az-nacl": _disrupt,
    "stop-ecs-task": _stop_task,
}


def fis_equivalent(fault: str) -> str:
    """One line for `gameday plan`: the FIS action, or why there is none."""
    if fault in ACTION_IDS:
        return ACTION_IDS[fault]
    return f"none: {UNSUPPORTED.get(fault, 'no FIS action is known for this fault')}"


def export(scenario: ScenarioSpec, ctx: FisContext) -> FisExport:
    targets: dict[str, Any] = {}
    actions: dict[str, Any] = {}
    unsupported: list[tuple[str, str]] = []
    for index, spec in enumerate(scenario.faults, start=1):
        if spec.fault not in ACTIONS:
            unsupported.append((spec.fault, UNSUPPORTED.get(spec.fault, "no FIS action is known for this fault")))
            continue
        action = ACTIONS[spec.fault](spec, ctx)
        if isinstance(action, str):  # FIS has the action, but not for this scenario as written
            unsupported.append((spec.fault, action))
            continue
        key = _key(f"{spec.fault}-{index}")
        targets[key] = action.target
        description = f"gameday fault {spec.fault}: {spec.targets}"[:512]
        actions[key] = {"actionId": action.action_id, "description": description,
                        "targets": {action.target_key: key},
                        **({"parameters": dict(action.parameters)} if action.parameters else {})}
    if not actions:
        raise ConfigError(f"FIS can express none of the faults of {scenario.scenario_id}: "
                          + "; ".join(f"{f}: {why}" for f, why in unsupported))
    stop, notes = _stop_conditions(scenario, ctx)
    if not ctx.role_arn:
        notes.append("roleArn is a placeholder: pass --role-arn with a role FIS may assume")
    if not ctx.account:
        notes.append("ARNs hold ACCOUNT_ID: pass --account to fill it in")
    template = {
        "description": f"gameday {scenario.scenario_id}: {scenario.summary}"[:512],
        "roleArn": ctx.role_arn or ctx.arn("iam", "role/gameday-fis-experiments", region=False),
        "targets": targets,
        "actions": actions,
        "stopConditions": stop,
        "tags": {"gameday:scenario": scenario.scenario_id, "gameday:stack": ctx.stack_name},
        "experimentOptions": {"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail"},
    }
    return FisExport(template, tuple(unsupported), tuple(notes))


def _stop_conditions(scenario: ScenarioSpec, ctx: FisContext) -> tuple[list[dict[str, str]], list[str]]:
    notes: list[str] = []
    stop = [{"source": "aws:cloudwatch:alarm", "value": ctx.arn("cloudwatch", f"alarm:{name}")}
            for name in dict.fromkeys([*scenario.stop.alarms, *ctx.alarms])]
    if scenario.stop.probe is not None and scenario.stop.floor is not None:
        notes.append(f"stop condition not expressible in FIS: availability of {scenario.stop.probe} below "
                     f"{scenario.stop.floor:.0%} is measured by gameday's probes; FIS stops only on CloudWatch "
                     "alarms, so put an alarm on a client-side metric and list it")
    if not stop:
        notes.append("the experiment has no stop condition (source none)")
        stop = [{"source": "none"}]
    return stop, notes


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]
