"""spot-vpc-origin: a private IPv6 Spot instance behind a CloudFront VPC origin at a stable private name;
three ways to make the AAAA follow the instance, broken at the same moment and compared side by side.

Every scenario deploys the three variants (user data, lifecycle hook -> SNS -> Lambda, Cloud Map), breaks
each the same way in one run, and reports one result per variant: the AAAA switch at the VPC's DNS
server, CloudFront's own switch, the outage CloudFront clients saw (maintenance page or errors), and
the time until the new instance served again, against the model and the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import StackOverrides
from gameday import model
from gameday.analysis import FailoverResult
from gameday.backends.base import Backend
from gameday.faults import CompositeFault, Fault, SpotCapacityError, SpotInterruption, TerminateInstance
from gameday.run import RunPaths
from gameday.scenario import Headline, ScenarioResult, WatchPolicy
from gameday.spot_run import (
    STACK,
    VariantReading,
    VariantStacks,
    analyze_variant,
    current,
    delete_variants,
    deploy_variants,
    probes,
    read_variant,
    variant_timeline,
)
from gameday.timeline import Event
from localcloud.profiles import Profile

pytestmark = pytest.mark.stack(STACK)

MODEL_TOLERANCE = 0.20  # fast profile: the measurement must agree with the profile's own numbers
STABLE_WINDOW_S = 2.0


@pytest.fixture(scope="module")
def variants(backend: Backend, run_paths: RunPaths, time_profile: Profile,
             stack_overrides: StackOverrides) -> Iterator[list[VariantStacks]]:
    stacks = deploy_variants(backend, f"{run_paths.run_id}-svo", time_profile, parameters=stack_overrides(STACK))
    try:
        yield stacks
    finally:
        delete_variants(backend, stacks)


def _client_timeout(failover: Failover) -> float:
    # CloudFront tries the origin attempts x connection timeout before the maintenance page.
    return 3 * max(1.0, failover.profile.delay("cloudfront.connection_timeout").mean) + 2.0


def _compare(failover: Failover, stacks: Sequence[VariantStacks], name: str, scenario: str,
             per_variant: Callable[[VariantStacks], Fault], setup: Sequence[Fault] = ()) -> list[ScenarioResult]:
    """One shared run with every variant broken at once (after `setup`, a condition they all share), then one
    judged result per variant."""
    stacks = [current(failover.backend, s) for s in stacks]  # an earlier scenario replaced the instances
    fault = CompositeFault([*setup, *(per_variant(s) for s in stacks)], name=name)
    predictions = {s.variant: model.predict(STACK, fault.name, failover.profile, s.origin) for s in stacks}
    worst = max((p.high_s for p in predictions.values() if p is not None), default=60.0)
    every = [p for s in stacks for p in probes(s, failover.backend, timeout_s=_client_timeout(failover))]
    run = failover.run(
        stack_id=STACK, scenario=scenario, fault=fault, probes=every, primary_probe=stacks[0].cdn_probe,
        steady_probes=[s.cdn_probe for s in stacks[1:]], stack=stacks[0].origin, record=False,
        policy=WatchPolicy(steady_consecutive=10, watch_timeout_s=1.3 * worst + 10.0, tail_s=1.0,
                           stable_window_s=STABLE_WINDOW_S))
    if run.fault_at is None:  # no steady state, or the fault failed: every variant shares that verdict
        failover.report.scenarios.append(run)
        return [run]
    results = []
    for index, stack in enumerate(stacks, start=len(setup)):
        fault_at = fault.injected_at[index] if index < len(fault.injected_at) else run.fault_at
        results.append(_variant_result(failover, run, stack, fault.parts[index], fault_at, scenario,
                                       predictions[stack.variant], fault.name))
    failover.report.scenarios.extend(results)
    return results


def _variant_result(failover: Failover, run: ScenarioResult, stack: VariantStacks, part: Fault, fault_at: float,
                    scenario: str, prediction: Any, comparison: str) -> ScenarioResult:
    view = variant_timeline(run.timeline, stack, fault_at, part.target)
    analysed = analyze_variant(view, stack, fault_at, STABLE_WINDOW_S)
    reading = read_variant(view, stack, fault_at, analysed)
    view.add_event(Event(fault_at, "gameday.variant", "gameday", stack.variant, reading.to_detail()))
    name = f"{scenario}-{stack.variant}"
    budget = failover.budget(STACK, comparison, name)
    verdict, message = _judge(failover, stack, analysed, reading, prediction, budget)
    headline = Headline("served by the new instance again", reading.served_again_s) \
        if reading.served_again_s is not None else None
    return ScenarioResult(STACK, name, comparison, part.target, run.backend, run.profile, budget, fault_at,
                          analysed, prediction, verdict, message, view, headline,
                          details={"comparison": comparison, **reading.to_detail()})


def _judge(failover: Failover, stack: VariantStacks, failover_result: FailoverResult, reading: VariantReading,
           prediction: Any, budget: float) -> tuple[str, str]:
    seen = (f"AAAA switched after {_s(reading.aaaa_switch_s)}, CloudFront after {_s(reading.edge_switch_s)}; "
            f"clients saw {reading.fallback_samples} maintenance pages and {reading.error_samples} errors "
            f"over {_s(reading.outage_s)}")
    if reading.aaaa_switch_s is None:
        return "failed", (f"{stack.variant}: {stack.origin_name} never stopped naming the interrupted instance: "
                          f"phase 'record follows the instance' never happened; {seen}")
    if reading.served_again_s is None:
        return "failed", (f"{stack.variant}: CloudFront never served from the new instance again (stable for "
                          f"{STABLE_WINDOW_S:g} s): phase 'served again' never happened; {seen}")
    text = f"{stack.variant}: served by the new instance again after {reading.served_again_s:.2f} s; {seen}"
    if prediction is not None and failover.profile.name == "fast":
        predicted = prediction.mean_s
        if abs(reading.served_again_s - predicted) > MODEL_TOLERANCE * predicted:
            return "failed", (f"{text}; the model says {predicted:.2f} s (+-{MODEL_TOLERANCE:.0%}): the measurement "
                              "or localcloud is off")
    if reading.served_again_s > budget:
        return "failed", f"{text}, over the {budget:.1f} s budget"
    return "passed", f"{text} (budget {budget:.1f} s)"


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def _assert_all(results: Sequence[ScenarioResult]) -> None:
    failed = [r.message for r in results if not r.passed]
    assert not failed, "; ".join(failed)


@pytest.mark.scenario
@pytest.mark.fault("spot-interruption")
def test_spot_interruption(variants: list[VariantStacks], failover: Failover) -> None:
    """The two-minute notice (scaled), then termination; the group replaces only after (no capacity
    rebalancing), and each variant's record follows the replacement its own way."""
    _assert_all(_compare(failover, variants, "spot-interruption", "spot-interruption",
                         lambda s: SpotInterruption(failover.backend, s.group)))


@pytest.mark.scenario
@pytest.mark.extended
@pytest.mark.fault("terminate-instance")
def test_plain_termination(variants: list[VariantStacks], failover: Failover) -> None:
    _assert_all(_compare(failover, variants, "terminate-instance", "terminate-instance",
                         lambda s: TerminateInstance(failover.backend, s.group)))


@pytest.mark.scenario
@pytest.mark.extended
@pytest.mark.fault("spot-capacity-error")
def test_no_capacity_for_the_first_choice(variants: list[VariantStacks], failover: Failover) -> None:
    """No Spot capacity for the first-choice instance type in any of the groups' zones (capacity is per pool,
    region-wide: the same condition for every variant), then the instances go: each group's launch fails
    once in the zone it picked and launches the next type there."""
    first = _first_choice(failover.backend, variants[0])
    setup = [SpotCapacityError(failover.backend, variants[0].group, first, zone)
             for zone in sorted({z for s in variants for z in _zones(failover.backend, s)})]
    _assert_all(_compare(failover, variants, "spot-capacity-error", "capacity-error",
                         lambda s: TerminateInstance(failover.backend, s.group), setup))


def _first_choice(backend: Backend, stack: VariantStacks) -> str:
    return str(_group(backend, stack)["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"][0]["InstanceType"])


def _zones(backend: Backend, stack: VariantStacks) -> set[str]:
    return set(_group(backend, stack)["AvailabilityZones"])


def _group(backend: Backend, stack: VariantStacks) -> dict[str, Any]:
    return dict(backend.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.group])["AutoScalingGroups"][0])
