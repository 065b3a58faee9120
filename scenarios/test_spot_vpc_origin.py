"""spot-vpc-origin: a private IPv6 Spot instance behind a CloudFront VPC origin at a stable private name;
three ways to make the AAAA follow the instance, broken at the same moment and compared side by side.

Every scenario deploys the three variants (user data, lifecycle hook -> SNS -> Lambda, Cloud Map), breaks
each the same way in one run, and reports one result per variant: the AAAA switch at the VPC's DNS
server, CloudFront's own switch, the outage CloudFront clients saw (maintenance page or errors), and
the time until the new instance served again, against the model and the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import StackOverrides
from gameday import model
from gameday.analysis import FailoverResult
from gameday.backends.base import Backend
from gameday.faults import (
    CapacityThrash,
    CompositeFault,
    Fault,
    SpotCapacityError,
    SpotInterruption,
    TerminateInstance,
)
from gameday.run import RunPaths
from gameday.scenario import Headline, ScenarioResult, WatchPolicy
from gameday.spot_run import (
    CLEANUP,
    STACK,
    ThrashReading,
    VariantReading,
    VariantStacks,
    analyze_variant,
    current,
    delete_variants,
    deploy_variants,
    gone_times,
    ipv6_of,
    negative_answers,
    probes,
    read_thrash,
    read_variant,
    record_spans,
    variant_timeline,
)
from gameday.timeline import Event, Timeline
from localcloud.profiles import Profile

pytestmark = pytest.mark.stack(STACK)

MODEL_TOLERANCE = 0.20  # fast profile: the measurement must agree with the profile's own numbers
STABLE_WINDOW_S = 2.0
RANGE_SLACK_S = 0.5  # a range's ends may be 0 or a TTL exactly; the probes sample every 200 ms


@pytest.fixture(scope="module")
def variants(backend: Backend, run_paths: RunPaths, time_profile: Profile,
             stack_overrides: StackOverrides) -> Iterator[list[VariantStacks]]:
    stacks = deploy_variants(backend, f"{run_paths.run_id}-svo", time_profile, parameters=stack_overrides(STACK))
    try:
        yield stacks
    finally:
        delete_variants(backend, stacks)


@pytest.fixture(scope="module")
def cleanup_variant(backend: Backend, run_paths: RunPaths, time_profile: Profile,
                    stack_overrides: StackOverrides) -> Iterator[VariantStacks]:
    """The lifecycle-hook variant with its terminating hook (TerminationCleanup=true), for the scenarios
    about instances leaving the group; deployed only when one of them runs."""
    stacks = deploy_variants(backend, f"{run_paths.run_id}-svo", time_profile, (CLEANUP,),
                             parameters=stack_overrides(STACK))
    try:
        yield stacks[0]
    finally:
        delete_variants(backend, stacks)


def _client_timeout(failover: Failover) -> float:
    # CloudFront tries the origin attempts x connection timeout before the maintenance page.
    return 3 * max(1.0, failover.profile.delay("cloudfront.connection_timeout").mean) + 2.0


@dataclass(frozen=True)
class Case:
    """One variant's share of a run that broke every variant at once."""

    failover: Failover
    run: ScenarioResult
    stack: VariantStacks
    part: Fault  # the fault's part that broke this variant
    fault_at: float
    scenario: str  # this variant's scenario name
    comparison: str  # the fault's name, shared by every variant
    prediction: Any
    budget: float

    def view(self, *extra: Event) -> tuple[Timeline, FailoverResult]:
        """This variant's own timeline out of the shared run, and its analysis."""
        view = variant_timeline(self.run.timeline, self.stack, self.fault_at, self.part.target)
        view.add_events(extra)
        return view, analyze_variant(view, self.stack, self.fault_at, STABLE_WINDOW_S)

    def outside_range(self, measured: float) -> str | None:
        """Why `measured` disagrees with the prediction's range under the fast profile (None: it agrees)."""
        if self.prediction is None or self.failover.profile.name != "fast":
            return None
        low = self.prediction.low_s * (1 - MODEL_TOLERANCE) - RANGE_SLACK_S
        high = self.prediction.high_s * (1 + MODEL_TOLERANCE) + RANGE_SLACK_S
        if low <= measured <= high:
            return None
        return (f"the model says {self.prediction.low_s:.2f}-{self.prediction.high_s:.2f} s "
                f"(+-{MODEL_TOLERANCE:.0%}): the measurement or localcloud is off")

    def result(self, view: Timeline, analysed: FailoverResult, judged: tuple[str, str], headline: Headline | None,
               details: dict[str, Any]) -> ScenarioResult:
        view.add_event(Event(self.fault_at, "gameday.variant", "gameday", self.stack.variant, details))
        verdict, message = judged
        return ScenarioResult(STACK, self.scenario, self.comparison, self.part.target, self.run.backend,
                              self.run.profile, self.budget, self.fault_at, analysed, self.prediction, verdict,
                              message, view, headline, details={"comparison": self.comparison, **details})


VariantJudge = Callable[[Case], ScenarioResult]


def _compare(failover: Failover, stacks: Sequence[VariantStacks], name: str, scenario: str,
             per_variant: Callable[[VariantStacks], Fault], setup: Sequence[Fault] = (), *,
             judge: VariantJudge | None = None, fixed_watch_s: float | None = None) -> list[ScenarioResult]:
    """One shared run with every variant broken at once (after `setup`, a condition they all share), then one
    judged result per variant (`judge`, by default: when CloudFront served from the replacement again)."""
    stacks = [current(failover.backend, s) for s in stacks]  # an earlier scenario replaced the instances
    fault = CompositeFault([*setup, *(per_variant(s) for s in stacks)], name=name)
    predictions = {s.variant: model.predict(STACK, fault.name, failover.profile, s.origin) for s in stacks}
    worst = max((p.high_s for p in predictions.values() if p is not None), default=60.0)
    every = [p for s in stacks for p in probes(s, failover.backend, timeout_s=_client_timeout(failover))]
    run = failover.run(
        stack_id=STACK, scenario=scenario, fault=fault, probes=every, primary_probe=stacks[0].cdn_probe,
        steady_probes=[s.cdn_probe for s in stacks[1:]], stack=stacks[0].origin, record=False,
        policy=WatchPolicy(steady_consecutive=10, watch_timeout_s=1.3 * worst + 10.0, tail_s=1.0,
                           stable_window_s=STABLE_WINDOW_S, fixed_watch_s=fixed_watch_s))
    if run.fault_at is None:  # no steady state, or the fault failed: every variant shares that verdict
        failover.report.scenarios.append(run)
        return [run]
    results = []
    for index, stack in enumerate(stacks, start=len(setup)):
        fault_at = fault.injected_at[index] if index < len(fault.injected_at) else run.fault_at
        name = f"{scenario}-{stack.variant}"
        results.append((judge or _variant_result)(Case(
            failover, run, stack, fault.parts[index], fault_at, name, fault.name, predictions[stack.variant],
            failover.budget(STACK, fault.name, name))))
    failover.report.scenarios.extend(results)
    return results


def _variant_result(case: Case) -> ScenarioResult:
    view, analysed = case.view()
    reading = read_variant(view, case.stack, case.fault_at, analysed)
    headline = Headline("served by the new instance again", reading.served_again_s) \
        if reading.served_again_s is not None else None
    return case.result(view, analysed, _judge(case, reading), headline, reading.to_detail())


def _judge(case: Case, reading: VariantReading) -> tuple[str, str]:
    failover, stack, prediction, budget = case.failover, case.stack, case.prediction, case.budget
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


@pytest.mark.scenario
@pytest.mark.extended
@pytest.mark.fault("capacity-thrash")
def test_two_instances_alive_at_once(variants: list[VariantStacks], cleanup_variant: VariantStacks,
                                     failover: Failover) -> None:
    """Capacity thrash: every group runs a second instance for a moment and lets the older one go as soon as
    the newcomer passes its EC2 health check (what Capacity Rebalancing does). Each variant's record names the
    last instance that wrote it; the report shows who it named over time, flags the last-writer-wins window
    and any time it named an instance that was gone. The cleanup variant's terminating hook must leave the
    newcomer's record alone."""
    stacks = [*variants, cleanup_variant]
    _assert_all(_compare(failover, stacks, "capacity-thrash", "two-instances-alive",
                         lambda s: CapacityThrash(failover.backend, s.group), judge=_thrash_result,
                         fixed_watch_s=_thrash_watch(failover, stacks)))


@pytest.mark.scenario
@pytest.mark.extended
@pytest.mark.fault("terminate-in-group")
def test_termination_hook_cleanup(variants: list[VariantStacks], cleanup_variant: VariantStacks,
                                  failover: Failover) -> None:
    """The group itself terminates the instance (scale-in, instance refresh, an operator): the lifecycle-hook
    variant with its terminating hook, beside the same variant without one. The hook removes the record only
    while it still names the leaving instance, and the leaving instance serves until the removal is in sync."""
    hook = next(s for s in variants if s.variant == "lifecycle-hook")
    _assert_all(_compare(failover, [hook, cleanup_variant], "terminate-in-group", "termination-hook-cleanup",
                         lambda s: TerminateInstance(failover.backend, s.group, through_group=True),
                         judge=_cleanup_result))


def _thrash_watch(failover: Failover, stacks: Sequence[VariantStacks]) -> float:
    """Long enough for the newcomer to launch, pass its health check and write the record, and CloudFront to
    follow; a variant may show no outage at all, so the watch cannot wait for one to end."""
    profile = failover.profile
    steps = ("ec2.run_instances_api", "ec2.pending_to_running", "ec2.boot", "sns.lambda_delivery",
             "route53.change_insync")
    ttl = max(float(s.origin.spec.parameters["RecordTtl"]) for s in stacks)
    return 1.5 * (sum(profile.delay(k).high for k in steps) + ttl) + 6.0


def _thrash_result(case: Case) -> ScenarioResult:
    part, stack = case.part, case.stack
    assert isinstance(part, CapacityThrash)
    view, analysed = case.view(*(Event(s.at, "gameday.fault.step", "gameday", part.target,
                                       {"step": s.what, **s.detail}) for s in part.steps))
    left = [(s.at, str(s.detail["instance"])) for s in part.steps if s.what == "left"]
    reading = read_thrash(view, stack, case.fault_at, analysed, part.newcomer, left,
                          {stack.instance_id: stack.ipv6, **part.addresses})
    return case.result(view, analysed, _judge_thrash(case, part, reading),
                       Headline("outage seen through CloudFront", reading.outage_s), reading.to_detail())


def _judge_thrash(case: Case, part: CapacityThrash, reading: ThrashReading) -> tuple[str, str]:
    stack = case.stack
    window = "none" if reading.lww_start_s is None else \
        f"+{reading.lww_start_s:.2f} to +{_s(reading.lww_end_s).removesuffix(' s')} s"
    seen = (f"newcomer {reading.newcomer or 'never healthy'}, left: {', '.join(reading.left) or 'nobody'}; the record "
            f"named the newcomer after {_s(reading.named_newcomer_s)}; last-writer-wins window {window}; it named "
            f"a gone instance for {reading.stale_s:.2f} s; clients saw {reading.outage_s:.2f} s of outage "
            f"({reading.fallback_samples} maintenance pages, {reading.error_samples} errors)")
    if part.error:
        return "failed", f"{stack.variant}: the fault's second step failed: {part.error}; {seen}"
    if reading.survivor is None:
        return "failed", f"{stack.variant}: the group did not end with one of the two instances; {seen}"
    if reading.final_names != (reading.survivor,):
        named = ", ".join(reading.final_names) or "nothing"
        return "failed", (f"{stack.variant}: phase 'record names the survivor' never happened: {stack.origin_name} "
                          f"ends naming {named} while {reading.survivor} serves alone (last writer wins); {seen}")
    if not reading.served_by_survivor:
        return "failed", (f"{stack.variant}: phase 'served by the survivor' never happened: CloudFront's last "
                          f"answers did not all come from {reading.survivor}; {seen}")
    return _within(case, reading.outage_s, f"{stack.variant}: {seen}")


def _within(case: Case, measured: float, text: str) -> tuple[str, str]:
    """The last two checks of a range-judged variant: the model's range (fast), then the budget."""
    off = case.outside_range(measured)
    if off is not None:
        return "failed", f"{text}; {off}"
    if measured > case.budget:
        return "failed", f"{text}, over the {case.budget:.1f} s budget"
    return "passed", f"{text} (budget {case.budget:.1f} s)"


def _cleanup_result(case: Case) -> ScenarioResult:
    stack, fault_at = case.stack, case.fault_at
    view, analysed = case.view()
    reading = read_variant(view, stack, fault_at, analysed)
    replacement = next((i for i in reading.instances if i != stack.instance_id), None)
    addresses = {stack.instance_id: stack.ipv6}
    if replacement is not None:
        addresses[replacement] = ipv6_of(case.failover.backend, replacement)
    spans = record_spans(view, stack, fault_at, addresses, gone_times(view))
    outage = sum(w.duration_s for w in analysed.outage_windows)
    negative = negative_answers(view, fault_at)
    hook = [e.detail for e in view.events_of("localcloud.asg.lifecycle_complete")
            if e.at >= fault_at and e.detail.get("instance") == stack.instance_id]
    details = {**reading.to_detail(), "outage_total_s": round(outage, 3),
               "stale_s": round(sum(s.stale_s for s in spans), 3), "negative_answers": len(negative),
               "negative_cached_s": max((float(e.detail.get("ttl") or 0.0) for e in negative), default=0.0),
               "terminating_hook": hook[0] if hook else None, "record_spans": [s.to_detail() for s in spans]}
    seen = (f"clients saw {outage:.2f} s of outage ({reading.fallback_samples} maintenance pages, "
            f"{reading.error_samples} errors); the record named a gone instance for {details['stale_s']:.2f} s; "
            f"CloudFront found no address {len(negative)} times")
    removed_later = replacement is not None and any(
        not s.names and any(replacement in e.names for e in spans[:i]) for i, s in enumerate(spans))
    judged: tuple[str, str]
    if reading.served_again_s is None:
        judged = "failed", (f"{stack.variant}: phase 'served again' never happened: CloudFront never served "
                            f"from the replacement for {STABLE_WINDOW_S:g} s; {seen}")
    elif stack.variant == CLEANUP and case.failover.backend.name == "localcloud" and not any(
            h.get("by") == "api" for h in hook):
        judged = "failed", (f"{stack.variant}: phase 'terminating hook cleaned up' never happened: the Lambda "
                            f"never completed {stack.instance_id}'s lifecycle action "
                            f"({hook[0].get('by') if hook else 'no action ended'}); {seen}")
    elif removed_later:
        judged = "failed", (f"{stack.variant}: the cleanup removed the replacement's record: "
                            f"{stack.origin_name} named {replacement}, then nothing; {seen}")
    else:
        judged = _within(case, outage, f"{stack.variant}: served by {replacement} again after "
                                       f"{_s(reading.served_again_s)}; {seen}")
    return case.result(view, analysed, judged, Headline("outage seen through CloudFront", outage), details)
