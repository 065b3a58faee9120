"""spot-vpc-origin's scenarios: a private IPv6 Spot instance behind a CloudFront VPC origin at a stable private
name; four ways to keep that name on the instance (three make the AAAA follow it, one moves a fixed address
to it), broken at the same moment and compared side by side.

Every scenario breaks each variant the same way in one run and reports one result per variant
(`<scenario>-<variant>`): the AAAA switch at the VPC's DNS server, CloudFront's own switch, the outage
CloudFront clients saw (maintenance page or errors), and the time until the new instance served again,
against the model and the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults import (
    CapacityThrash,
    CompositeFault,
    Fault,
    SpotCapacityError,
    SpotInterruption,
    TerminateInstance,
)
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.spot_vpc_origin import model
from gameday.kits.spot_vpc_origin.compare import VariantFault, all_variants, compare
from gameday.kits.spot_vpc_origin.deploy import CLEANUP, ENI, STACK, VariantStacks
from gameday.kits.spot_vpc_origin.judges import cleanup_result, thrash_result, thrash_watch, variant_result

GROUP = "the Spot instance of each variant's Auto Scaling group (output AutoScalingGroupName)"
REVERT = "the group's min/max/desired back as they were (the group itself replaces the instance)"

INTERRUPT = VariantFault("spot-interruption", lambda backend, v: SpotInterruption(backend, v.group))
TERMINATE = VariantFault("terminate-instance", lambda backend, v: TerminateInstance(backend, v.group))


def _records_that_follow(variants: Sequence[VariantStacks]) -> list[VariantStacks]:
    """The variants whose record follows an instance (not the eni variant, whose record never moves: who holds
    the interface while two instances live is not read yet)."""
    return [v for v in variants if not v.fixed_address]


THRASH = VariantFault("capacity-thrash", lambda backend, v: CapacityThrash(backend, v.group), _records_that_follow)


def _hook_variants(variants: Sequence[VariantStacks]) -> list[VariantStacks]:
    """The lifecycle-hook variant with its terminating hook, beside the same variant without one."""
    return [v for v in variants if v.variant in ("lifecycle-hook", CLEANUP)]


TERMINATE_IN_GROUP = VariantFault(
    "terminate-in-group", lambda backend, v: TerminateInstance(backend, v.group, through_group=True), _hook_variants)


def no_capacity_for_first_choice(backend: Backend, deployment: Deployment) -> Fault:
    """No Spot capacity for the first-choice instance type in any zone of the variants' groups. Capacity is
    per pool, region-wide: the same condition for every variant, read from the first variant's group."""
    variants = all_variants(deployment)
    groups = [_group(backend, v.group) for v in variants]
    policy = groups[0].get("MixedInstancesPolicy")
    if not policy:
        raise FaultError(f"group {variants[0].group} has no mixed instances policy whose first choice could run "
                         "dry", fault="spot-capacity-error", target=variants[0].group)
    first = str(policy["LaunchTemplate"]["Overrides"][0]["InstanceType"])
    zones = sorted({zone for group in groups for zone in group["AvailabilityZones"]})
    return CompositeFault([SpotCapacityError(backend, variants[0].group, first, zone) for zone in zones],
                          name="spot-capacity-error")


def _group(backend: Backend, name: str) -> dict[str, Any]:
    found = backend.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    if not found["AutoScalingGroups"]:
        raise FaultError(f"Auto Scaling group {name} not found", fault="spot-capacity-error", target=name)
    return dict(found["AutoScalingGroups"][0])


SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/spot-interruption", STACK,
        "interrupt the Spot instance (notice, then termination); each variant's AAAA must follow the replacement",
        (FaultSpec("spot-interruption", GROUP, REVERT, INTERRUPT.build, {"notice": "PT2M"}),),
        partial(compare, breaks=INTERRUPT, judge=variant_result), predict=model.spot_interruption),
    ScenarioSpec(
        f"{STACK}/spot-interruption-four-ways", STACK,
        "the same Spot interruption for all four ways side by side: the three whose AAAA follows the replacement "
        "and eni, whose fixed address must move to it with the interface",
        (FaultSpec("spot-interruption", GROUP, REVERT, INTERRUPT.build, {"notice": "PT2M"}),),
        partial(compare, breaks=INTERRUPT, judge=variant_result), extended=True, predict=model.spot_interruption,
        also=(ENI,)),
    ScenarioSpec(
        f"{STACK}/terminate-instance", STACK,
        "terminate the Spot instance without notice; each variant's AAAA must follow the replacement (eni: its "
        "interface must)",
        (FaultSpec("terminate-instance", GROUP, REVERT, TERMINATE.build),),
        partial(compare, breaks=TERMINATE, judge=variant_result), extended=True, predict=model.terminate_instance,
        also=(ENI,)),
    ScenarioSpec(
        f"{STACK}/capacity-error", STACK,
        "no Spot capacity for the first-choice instance type, then terminate the instance: the group must "
        "launch another type",
        (FaultSpec("spot-capacity-error", "the first variant's first-choice instance type, in every zone of the "
                   "variants' groups", "Spot capacity for those pools again", no_capacity_for_first_choice),
         FaultSpec("terminate-instance", GROUP, REVERT, TERMINATE.build)),
        partial(compare, breaks=TERMINATE, judge=variant_result), extended=True, predict=model.capacity_error,
        budget="spot-capacity-error", also=(ENI,)),
    ScenarioSpec(
        f"{STACK}/two-instances-alive", STACK,
        "capacity thrash: scale each group out by one, then back in once the newcomer passes its health check; "
        "the record must end naming the survivor (the cleanup variant's terminating hook must leave it alone; "
        "the eni variant is not in this comparison)",
        (FaultSpec("capacity-thrash", "each variant's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were", THRASH.build),),
        partial(compare, breaks=THRASH, judge=thrash_result, fixed_watch=thrash_watch), extended=True,
        predict=model.capacity_thrash, also=("cleanup",)),
    ScenarioSpec(
        f"{STACK}/termination-hook-cleanup", STACK,
        "the group terminates its instance itself (lifecycle-hook variant with TerminationCleanup=true, beside "
        "the same variant without): the terminating hook removes the record only while it names the leaving "
        "instance",
        (FaultSpec("terminate-in-group", GROUP, REVERT, TERMINATE_IN_GROUP.build),),
        partial(compare, breaks=TERMINATE_IN_GROUP, judge=cleanup_result), extended=True,
        predict=model.terminate_in_group, also=("cleanup",)),
)
