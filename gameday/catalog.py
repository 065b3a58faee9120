"""The scenario catalog: every scenario's stack, faults (built from the stack's outputs) and stop conditions.

`gameday plan` and `gameday export-fis` read scenarios from here, and scenario tests can build their
faults here too; a new scenario is one `ScenarioSpec` in `SCENARIOS`, nothing is parsed out of test files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.faults import (
    BackendLoss,
    BlockAzNacl,
    BlockAzSecurityGroups,
    BlueGreenSwitch,
    CapacityThrash,
    CompositeFault,
    DenyBucketPolicy,
    Fault,
    ObjectsMissing,
    RegionUnreachable,
    ScaleEcsService,
    SpotCapacityError,
    SpotInterruption,
    TerminateInstance,
)
from gameday.stacks import DeployedStack
from gameday.stopconditions import AlarmState, AvailabilityFloor, StopCondition

FaultBuilder = Callable[[Backend, DeployedStack], Fault]


@dataclass(frozen=True)
class FaultSpec:
    fault: str  # a name in gameday.faults.FAULTS
    targets: str  # the targets in words, before any stack exists
    revert: str  # the revert in words
    build: FaultBuilder  # the concrete fault against a deployed (or named) stack
    settings: Mapping[str, str] = field(default_factory=dict)  # static settings (az, duration) for FIS export


@dataclass(frozen=True)
class StopSpec:
    """Stop conditions: an availability floor (limit in multiples of the budget) and CloudWatch alarms."""

    probe: str | None = None
    floor: float | None = None
    limit_budgets: float = 3.0
    alarms: tuple[str, ...] = ()

    def conditions(self, backend: Backend, budget_s: float) -> list[StopCondition]:
        found: list[StopCondition] = []
        if self.probe is not None and self.floor is not None:
            found.append(AvailabilityFloor(self.probe, self.floor, limit_s=self.limit_budgets * budget_s))
        for alarm in self.alarms:
            condition = AlarmState(backend, alarm)
            condition.validate()
            found.append(condition)
        return found

    def describe(self) -> str:
        parts = []
        if self.probe is not None and self.floor is not None:
            parts.append(f"availability of {self.probe} below {self.floor:.0%} for more than "
                         f"{self.limit_budgets:g}x the failover budget")
        parts += [f"CloudWatch alarm {a} in ALARM" for a in self.alarms]
        return "; ".join(parts) or "none"


@dataclass(frozen=True)
class ScenarioSpec:
    scenario_id: str  # "<stack>/<scenario>"
    stack_id: str
    summary: str
    faults: tuple[FaultSpec, ...]
    stop: StopSpec = field(default_factory=StopSpec)


def _terminate_web_instance(backend: Backend, stack: DeployedStack) -> Fault:
    return TerminateInstance(backend, stack.output("AutoScalingGroupName"))


def _terminate_proxy(backend: Backend, stack: DeployedStack) -> Fault:
    return TerminateInstance(backend, stack.output("ProxyGroups").split(",")[0])


def _second_az(backend: Backend, stack: DeployedStack) -> tuple[str, str]:
    subnet = stack.output("Subnets").split(",")[1]
    found = backend.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"]
    return stack.output("VpcId"), str(found[0]["AvailabilityZone"])


def _block_az_sg(backend: Backend, stack: DeployedStack) -> Fault:
    return BlockAzSecurityGroups(backend, *_second_az(backend, stack))


def _block_az_nacl(backend: Backend, stack: DeployedStack) -> Fault:
    return BlockAzNacl(backend, *_second_az(backend, stack))


def _switch_to_green(backend: Backend, stack: DeployedStack) -> Fault:
    name = stack.output("BackendName")  # backend.<zone>; the fleets are blue.backend.<zone>, green.backend.<zone>
    return BlueGreenSwitch(backend, stack.output("ZoneId"), name, f"green.{name}")


def _lose_backend(backend: Backend, stack: DeployedStack) -> Fault:
    return BackendLoss(backend, stack.output("BlueInstance"))


def _og_deny(backend: Backend, stack: DeployedStack) -> Fault:
    return DenyBucketPolicy(backend, stack.output("PrimaryBucketName"))


def _og_unreachable(backend: Backend, stack: DeployedStack) -> Fault:
    return RegionUnreachable(backend, stack.output("PrimaryRegion"), within=stack.output("PrimaryBucketName"))


def _og_missing(backend: Backend, stack: DeployedStack) -> Fault:
    return ObjectsMissing(backend, stack.output("PrimaryBucketName"), ["index.html"],
                          region=stack.output("PrimaryRegion"))


def _fargate_to_zero(backend: Backend, stack: DeployedStack) -> Fault:
    return ScaleEcsService(backend, stack.output("ClusterName"), stack.output("ServiceName"), desired=0)


_OG = "origin-group"
_OG_PRIMARY = "the primary bucket of the distribution's origin group (output PrimaryBucketName)"
_FG = "dns-failover-fargate"


_SVO = "spot-vpc-origin"
_SVO_GROUP = "the Spot instance of the stack's Auto Scaling group (output AutoScalingGroupName)"
_SVO_REVERT = "the group's min/max/desired back as they were (the group itself replaces the instance)"


def _interrupt_spot(backend: Backend, stack: DeployedStack) -> Fault:
    return SpotInterruption(backend, stack.output("AutoScalingGroupName"))


def _no_spot_capacity(backend: Backend, stack: DeployedStack) -> Fault:
    """The group's first-choice instance type runs out of Spot capacity in every zone of the group."""
    group = stack.output("AutoScalingGroupName")
    found = backend.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    groups = found["AutoScalingGroups"]
    if not groups or "MixedInstancesPolicy" not in groups[0]:
        raise ConfigError(f"group {group} has no mixed instances policy whose first choice could run dry")
    first = str(groups[0]["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"][0]["InstanceType"])
    return CompositeFault([SpotCapacityError(backend, group, first, zone)
                           for zone in sorted(groups[0]["AvailabilityZones"])], name="spot-capacity-error")


def _thrash(backend: Backend, stack: DeployedStack) -> Fault:
    return CapacityThrash(backend, stack.output("AutoScalingGroupName"))


def _terminate_in_group(backend: Backend, stack: DeployedStack) -> Fault:
    return TerminateInstance(backend, stack.output("AutoScalingGroupName"), through_group=True)


_SIH = "static-ip-haproxy"
_SIH_REVERT_ASG = "the group's min/max/desired back as they were (the group replaces the instance, same EIP)"


SCENARIOS: Mapping[str, ScenarioSpec] = {spec.scenario_id: spec for spec in (
    ScenarioSpec(
        "eip-self-healing/terminate-instance", "eip-self-healing",
        "terminate the one web instance; the group replaces it and its user data re-claims the Elastic IP",
        (FaultSpec("terminate-instance",
                   "the InService instance of the stack's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were (the group itself replaces the instance)",
                   _terminate_web_instance),),
        StopSpec(probe="http:eip", floor=0.5),
    ),
    ScenarioSpec(
        f"{_SIH}/terminate-proxy", _SIH,
        "terminate one of the four HAProxy nodes; its health check fails and DNS stops handing out its address",
        (FaultSpec("terminate-instance", "the instance of the first proxy group (output ProxyGroups)",
                   _SIH_REVERT_ASG, _terminate_proxy),),
        StopSpec(probe="https:www", floor=0.5),
    ),
    ScenarioSpec(
        f"{_SIH}/block-az-sg", _SIH,
        "block the second AZ with security groups (stateful: established connections live on)",
        (FaultSpec("block-az-security-groups", "every instance in the second AZ of the stack's VPC",
                   "each interface's security groups back, the quarantine group deleted", _block_az_sg),),
        StopSpec(probe="https:www", floor=0.5),
    ),
    ScenarioSpec(
        f"{_SIH}/block-az-nacl", _SIH,
        "block the second AZ with a network ACL as AWS FIS does (stateless: established connections break)",
        (FaultSpec("block-az-nacl", "the subnets of the second AZ of the stack's VPC",
                   "the subnets back on their network ACLs, the clones deleted", _block_az_nacl,
                   {"scope": "all"}),),
        StopSpec(probe="https:www", floor=0.5),
    ),
    ScenarioSpec(
        f"{_SIH}/blue-green-switch", _SIH,
        "point the backend name at the green fleet; every HAProxy must follow within its resolver timers",
        (FaultSpec("blue-green-switch", "the CNAME backend.<zone> (output BackendName)",
                   "the CNAME back to the blue fleet", _switch_to_green),),
    ),
    ScenarioSpec(
        f"{_SIH}/backend-loss", _SIH,
        "stop the active backend: health endpoints answer 503 and the nodes leave DNS (then fail-open)",
        (FaultSpec("backend-loss", "the blue backend instance (output BlueInstance)",
                   "the instance started again", _lose_backend),),
    ),
    ScenarioSpec(
        f"{_OG}/deny-bucket-policy", _OG,
        "the primary bucket denies everyone (bucket policy): each cache miss pays a 403 round trip, the replica serves",
        (FaultSpec("deny-bucket-policy", _OG_PRIMARY, "the previous bucket policy back", _og_deny),),
    ),
    ScenarioSpec(
        f"{_OG}/region-unreachable", _OG,
        "the primary region's S3 black-holes (localcloud only): each cache miss pays attempts x connection timeout",
        (FaultSpec("region-unreachable", "S3 in the primary region (output PrimaryRegion)",
                   "the region reachable again", _og_unreachable),),
    ),
    ScenarioSpec(
        f"{_OG}/objects-missing", _OG,
        "index.html is deleted from the primary bucket: S3 answers 403 (no ListBucket), the replica serves",
        (FaultSpec("objects-missing", f"index.html in {_OG_PRIMARY}", "the same bytes put back", _og_missing),),
    ),
    ScenarioSpec(
        f"{_FG}/scale-to-zero-and-back", _FG,
        "scale the ECS service to zero until clients get the CloudFront page 'Fallback.'; the revert fails back",
        (FaultSpec("scale-ecs-service", "the stack's ECS service (outputs ClusterName, ServiceName)",
                   "the desired count back as it was (failback)", _fargate_to_zero),),
        StopSpec(probe="http:app@caching", floor=0.2),
    ),
    ScenarioSpec(
        f"{_SVO}/spot-interruption", _SVO,
        "interrupt the Spot instance (notice, then termination); each variant's AAAA must follow the replacement",
        (FaultSpec("spot-interruption", _SVO_GROUP, _SVO_REVERT, _interrupt_spot, {"notice": "PT2M"}),),
    ),
    ScenarioSpec(
        f"{_SVO}/terminate-instance", _SVO,
        "terminate the Spot instance without notice; each variant's AAAA must follow the replacement",
        (FaultSpec("terminate-instance", _SVO_GROUP, _SVO_REVERT, _terminate_web_instance),),
    ),
    ScenarioSpec(
        f"{_SVO}/capacity-error", _SVO,
        "no Spot capacity for the first-choice instance type, then terminate the instance: the group must "
        "launch another type",
        (FaultSpec("spot-capacity-error", "the group's first-choice instance type, in every zone of the group",
                   "Spot capacity for those pools again", _no_spot_capacity),
         FaultSpec("terminate-instance", _SVO_GROUP, _SVO_REVERT, _terminate_web_instance)),
    ),
    ScenarioSpec(
        f"{_SVO}/two-instances-alive", _SVO,
        "capacity thrash: scale the group out by one, then back in once the newcomer passes its health check; "
        "the record must end naming the survivor",
        (FaultSpec("capacity-thrash", "the stack's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were", _thrash),),
    ),
    ScenarioSpec(
        f"{_SVO}/termination-hook-cleanup", _SVO,
        "the group terminates its instance itself (lifecycle-hook variant with TerminationCleanup=true): the "
        "terminating hook removes the record only while it names the leaving instance",
        (FaultSpec("terminate-in-group", _SVO_GROUP, _SVO_REVERT, _terminate_in_group),),
    ),
)}


def available() -> list[str]:
    return sorted(SCENARIOS)


def select(names: list[str] | tuple[str, ...]) -> list[ScenarioSpec]:
    """Scenarios by id, or every scenario of a stack by the stack's id; none given: all of them."""
    if not names:
        return [SCENARIOS[s] for s in available()]
    chosen: list[ScenarioSpec] = []
    for name in names:
        matches = [SCENARIOS[name]] if name in SCENARIOS else [s for s in SCENARIOS.values() if s.stack_id == name]
        if not matches:
            raise ConfigError(f"unknown scenario {name[:80]!r} (available: {', '.join(available())})")
        chosen += [m for m in matches if m not in chosen]
    return chosen
