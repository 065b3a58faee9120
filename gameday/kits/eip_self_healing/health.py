"""eip-self-healing beyond a terminated instance: a hung app on a running instance, with and without a health
signal from the app (AppHealthWatchdog), and the night-time scale to zero the write-up suggests to save cost.

A hung app keeps the instance running and its EC2 status checks passing, so a group with the EC2 health check
never replaces it: that run shows the outage lasting the whole watch window, a finding about the architecture
reported in words (never a pass). The watchdog deployment gives the group the app's health and heals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gameday.analysis import FailoverResult
from gameday.backends.base import Backend, public_resolvers
from gameday.faults import Fault, PortFault, ScaleToZero
from gameday.faults.port_fault import LOCAL_ONLY
from gameday.kits.eip_self_healing import model_health
from gameday.kits.eip_self_healing.deploy import WATCHDOG
from gameday.kits.eip_self_healing.scenarios import PRIMARY, STACK, name_probes, probes
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.scenario import FailoverRun, Headline, Judgement, ScenarioResult, Verdict, WatchPolicy, steady_timeout
from gameday.session import GameDay
from gameday.stopconditions import StopSpec
from gameday.timeline import Sample, Timeline

Judge = Callable[[FailoverRun, FailoverResult, float], Judgement]
NIGHT_S = {"fast": 5.0}  # how long the group stays at zero; any other profile: REALISTIC_NIGHT_S
REALISTIC_NIGHT_S = 30.0
EC2_ONLY = ("the group only sees EC2 status: the instance is running, so it is never replaced "
            "(AppHealthWatchdog=true gives it the app's health)")


def hang_web_app(backend: Backend, deployment: Deployment) -> Fault:
    return PortFault(backend, deployment.output("AutoScalingGroupName"), 80, "hang-app")


def scale_web_to_zero(backend: Backend, deployment: Deployment) -> Fault:
    return ScaleToZero(backend, deployment.output("AutoScalingGroupName"))


@dataclass(frozen=True)
class GroupNow:
    """The group's members as the API answers after the run (the revert never replaces anyone)."""

    in_service: tuple[str, ...]

    @classmethod
    def read(cls, backend: Backend, group: str) -> GroupNow:
        found = backend.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[group])["AutoScalingGroups"]
        members = found[0]["Instances"] if found else []
        return cls(tuple(sorted(i["InstanceId"] for i in members if i["LifecycleState"] == "InService")))

    def newcomer(self, gone: Sequence[str]) -> str | None:
        return next((i for i in self.in_service if i not in gone), None)


def _between(timeline: Timeline, probe: str, start: float, end: float | None = None) -> list[Sample]:
    return [s for s in timeline.samples_of(probe) if s.sent_at >= start and (end is None or s.sent_at < end)]


def _revert_at(timeline: Timeline, fault_at: float) -> float | None:
    return min((e.at for e in timeline.events_of("fault.revert") if e.at >= fault_at), default=None)


def _serving_again(samples: Sequence[Sample]) -> Sample | None:
    """The first good sample after which every sample was good (the address serves for good)."""
    last_bad = max((i for i, s in enumerate(samples) if not s.good), default=-1)
    rest = samples[last_bad + 1:]
    return rest[0] if rest else None


# --- the hung app ---

def hung_app_judge(fault: PortFault, group: str, backend: Backend) -> Judge:
    """Healed = the group replaced the hung instance and the address served again steadily; then the failover
    time is judged against the budget. Not healed is failed, and the message says why in words."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        hung = fault.target
        newcomer = GroupNow.read(backend, group).newcomer([hung])
        revert_at = _revert_at(run.timeline, fault_at) or run.clock.now()
        watched = _between(run.timeline, PRIMARY, fault_at, revert_at)
        failed = sum(not s.good for s in watched)
        requests = f"{failed} of {len(watched)} requests failed"
        if newcomer is None:
            span = revert_at - fault_at
            longest = max((w.duration_s for w in failover.outage_windows), default=0.0)
            return Judgement(Verdict.FAILED, f"never healed: {PRIMARY} was down {longest:.1f} s of the {span:.0f} s "
                                             f"watch window, until the revert resumed the app, and the group "
                                             f"replaced nothing ({hung} still InService): {EC2_ONLY}; {requests}",
                             Headline("outage, never healed (watch window)", span))
        if not failover.recovered or failover.failover_time_s is None:
            return Judgement(Verdict.FAILED, f"the group replaced {hung} with {newcomer}, but {PRIMARY} never "
                                             f"served steadily again; {requests}")
        took = failover.failover_time_s
        predicted = f", predicted {run.prediction.mean_s:.1f} s" if run.prediction else ""
        text = (f"the app's health reached the group: it replaced the hung {hung} with {newcomer}, and the address "
                f"served again after {took:.2f} s (budget {run.budget_s:.1f} s{predicted}); {requests}")
        return Judgement(Verdict.PASSED if took <= run.budget_s else Verdict.FAILED, text)

    return judge


def run_hung_app(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    """With the EC2 health check the watch is the budget, fixed: nothing is expected to end the outage."""
    stack = deployment.main
    watchdog = stack.parameters.get("AppHealthWatchdog", "false") == "true"
    if spec.deployment == WATCHDOG and not watchdog:
        return [record_not_run(game, spec, f"stack {stack.name} runs without AppHealthWatchdog=true")]
    fault = spec.faults[0].build(game.backend, deployment)
    assert isinstance(fault, PortFault)
    found = probes(stack, public_resolvers(game.backend.resolvers()))
    budget = game.budget(STACK, spec.budget_key, spec.name)
    policy = None if watchdog else WatchPolicy(fixed_watch_s=budget, steady_timeout_s=steady_timeout(game.profile))
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=fault, probes=found, ready_probes=name_probes(found),
        primary_probe=PRIMARY, budget_key=spec.budget_key,
        prediction=spec.predict(game.profile, stack) if spec.predict and watchdog else None,
        stop=spec.stop, policy=policy, judge=hung_app_judge(fault, fault.group, game.backend),
        load=game.load_for(stack.output("ServiceUrl"), spec.name))]


# --- the night ---

def _associations(run: FailoverRun, allocation: str, since: float) -> list[tuple[float, str]]:
    """(when, instance) of each association of the allocation since `since` (ground truth; none on AWS)."""
    return [(e.at, str(e.detail.get("instance"))) for e in run.timeline.events_of("localcloud.eip.associated")
            if e.at >= since and e.detail.get("allocation_id") == allocation]


def _associated_now(backend: Backend, allocation: str) -> str | None:
    found = backend.client("ec2").describe_addresses(AllocationIds=[allocation])["Addresses"]
    return str(found[0].get("InstanceId") or "") or None if found else None


def morning_judge(fault: ScaleToZero, allocation: str, backend: Backend) -> Judge:
    """From the scale back to 1 (the revert) until the same address serves for good, from a new instance that
    the Elastic IP is associated with (the API now, ground truth where the backend has it)."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        morning_at = _revert_at(run.timeline, fault_at)
        if morning_at is None:
            return Judgement(Verdict.FAILED, "the group was never scaled back (no revert recorded)")
        night = _between(run.timeline, PRIMARY, fault_at, morning_at)
        night_text = (f"night {morning_at - fault_at:.1f} s at zero ({sum(not s.good for s in night)} of "
                      f"{len(night)} requests failed)")
        after = _between(run.timeline, PRIMARY, morning_at)
        back = _serving_again(after)
        associated = _associated_now(backend, allocation)
        truth = _associations(run, allocation, morning_at)
        served_by = sorted({s.served_by or "?" for s in after if back is not None and s.sent_at >= back.sent_at})
        facts = _morning_facts(back, morning_at, associated, truth, served_by)
        if back is None:
            return Judgement(Verdict.FAILED, f"{night_text}; after the scale back to 1 the address never served "
                                             f"steadily again; {facts}")
        took = back.sent_at - morning_at
        headline = Headline("scale back to 1 -> the same address serves", took)
        wrong = _morning_wrong(fault, associated, served_by, truth)
        if wrong:
            return Judgement(Verdict.FAILED, f"{night_text}; {wrong}; {facts}", headline)
        predicted = f", predicted {run.prediction.mean_s:.1f} s" if run.prediction else ""
        verdict = Verdict.PASSED if took <= run.budget_s else Verdict.FAILED
        return Judgement(verdict, f"{night_text}; the same address served again {took:.2f} s after the scale "
                                  f"back to 1 (budget {run.budget_s:.1f} s{predicted}); {facts}", headline)

    return judge


def _morning_facts(back: Sample | None, morning_at: float, associated: str | None,
                   truth: Sequence[tuple[float, str]], served_by: Sequence[str]) -> str:
    told = ", ".join(f"{instance} at +{at - morning_at:.2f} s" for at, instance in truth) or "none seen"
    return (f"Elastic IP associated with {associated or 'nothing'} (API), associations after the scale back: "
            f"{told} (ground truth); the probe's answers came from {', '.join(served_by) or 'nobody'}")


def _morning_wrong(fault: ScaleToZero, associated: str | None, served_by: Sequence[str],
                   truth: Sequence[tuple[float, str]]) -> str:
    """Why the morning is not the architecture's promise (empty: it is)."""
    if associated is None or associated in fault.night_instances:
        return "the Elastic IP was not re-associated to a new instance"
    if served_by != [associated]:
        return f"the address answered from {', '.join(served_by)}, not from {associated} that holds it"
    if truth and truth[-1][1] != associated:
        return f"ground truth last associated the address with {truth[-1][1]}, the API says {associated}"
    return ""


def run_scale_to_zero(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    """The night is watched for a fixed time; the morning (the revert) is watched in the tail, long enough for
    1.5 x the predicted worst case plus the user data and the stable window."""
    stack = deployment.main
    fault = spec.faults[0].build(game.backend, deployment)
    assert isinstance(fault, ScaleToZero)
    found = probes(stack, public_resolvers(game.backend.resolvers()))
    prediction = spec.predict(game.profile, stack) if spec.predict else None
    morning_s = 1.5 * (prediction.high_s if prediction else 60.0) + 10.0
    policy = WatchPolicy(fixed_watch_s=NIGHT_S.get(game.profile.name, REALISTIC_NIGHT_S), tail_s=morning_s,
                         steady_timeout_s=steady_timeout(game.profile))
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=fault, probes=found, ready_probes=name_probes(found),
        primary_probe=PRIMARY, budget_key=spec.budget_key, prediction=prediction, policy=policy,
        judge=morning_judge(fault, stack.output("AllocationId"), game.backend),
        load=game.load_for(stack.output("ServiceUrl"), spec.name))]


def _hang_spec(name: str, deployment: str, summary: str, predict: Any) -> ScenarioSpec:
    return ScenarioSpec(
        f"{STACK}/{name}", STACK, summary,
        (FaultSpec("hang-app", "the app on port 80 of the InService instance (output AutoScalingGroupName)",
                   "the app answers again (nothing to do once the instance is replaced)", hang_web_app),),
        run_hung_app, StopSpec(probe=PRIMARY, floor=0.5), extended=True, deployment=deployment, predict=predict,
        budget="hang-app", backends=("localcloud",), backend_note=LOCAL_ONLY)


HEALTH_SCENARIOS = (
    _hang_spec("hung-app", "default",
               "the app hangs on a running instance; with the group's EC2 health check nothing replaces it", None),
    _hang_spec("hung-app-watchdog", WATCHDOG,
               "the app hangs on a running instance; AppHealthWatchdog marks it Unhealthy and the group replaces "
               "it", model_health.hung_app),
    ScenarioSpec(
        f"{STACK}/scale-to-zero", STACK,
        "the night-time cost saving: the group to 0, then back to 1; the same address must serve again",
        (FaultSpec("scale-to-zero", "the stack's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were (the morning: a fresh instance claims the "
                   "address)", scale_web_to_zero),),
        run_scale_to_zero, extended=True, predict=model_health.morning, budget="scale-to-zero"),
)
