"""One failover scenario: steady state, fault, watch, revert, analysis, verdict.

Fixtures and the CLI call `run_failover`; everything it decides is in the returned `ScenarioResult`.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gameday.analysis import FailoverResult, analyze
from gameday.backends.base import Backend
from gameday.clients import (
    JVM_DNS_CACHE_S,
    OmittedProfile,
    ProfilePlan,
    ProfileRecovery,
    plan_for_run,
    recoveries,
    settled,
    summary_lines,
)
from gameday.clock import Clock
from gameday.diagnosis import Diagnoser, summarize
from gameday.errors import SystemUnderTestFailed
from gameday.faults import Fault, RollbackJournal, injected
from gameday.model import Prediction
from gameday.model.compare import compare, describe, took_the_time
from gameday.probes import ProbeRunner
from gameday.rto import RtoReading, RtoRule, evaluate_rto, summarize_outages
from gameday.stopconditions import StopCondition, StopConditionHit, stop_if_triggered
from gameday.timeline import Event, Sample, Timeline
from localcloud.profiles import Profile
from localcloud.timescale import factor

log = logging.getLogger(__name__)

LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104")
STEADY_TIMEOUT_S = 120.0  # at AWS's pace (realistic): health checks and TTLs of tens of seconds
# Under a faster profile the wait shrinks with it, but never below what real processes need to start
# and answer on a busy 2-core machine (the bootstrap and the servers are not scaled).
STEADY_TIMEOUT_FLOOR_S = 45.0
DIAGNOSE_EVERY_S = 1.0  # ground truth asked at most this often while waiting for the steady state
# A fatal cause must hold this long before the wait ends: a bootstrap's last command may fail after the
# service already started, and the probes then see it steady within a few samples.
FATAL_GRACE_S = 5.0
PROFILE_SAMPLES_GRACE_S = 3.0  # a few samples of a 2 Hz profile probe past its cache and stable window


class SteadyStateNotReached(SystemUnderTestFailed):
    """The stack never served steadily before the fault: there is nothing to fail over from."""


@dataclass(frozen=True)
class WatchPolicy:
    steady_consecutive: int = 20  # good samples in a row before the fault
    steady_timeout_s: float | None = None  # None: the time profile's bound (steady_timeout), set by GameDay.run
    stable_window_s: float = 2.0  # good for this long after the fault = stable
    watch_timeout_s: float = 60.0  # give up watching this long after the fault
    tail_s: float = 1.0  # keep sampling a little after stable, for the report
    load_warmup_s: float = 3.0  # load runs this long in steady state before the fault
    poll_s: float = 0.05
    # Watch exactly this long after the fault instead of waiting for error-then-stable: for faults
    # clients may never see as errors (a CloudFront origin group hides them; its cost is per request).
    fixed_watch_s: float | None = None
    # After stable, watch this much longer before the revert: a recovery that does not hold shows there.
    hold_s: float = 3.0
    # The RTO rule: the success rate that counts as recovered, and the window it is taken over.
    rto: RtoRule = RtoRule()
    # Client profiles (gameday.clients): derived from the primary HTTP probe when its URL has a DNS name; the
    # watch waits for them up to `profile_grace_s` after the primary is stable, never past watch_timeout_s.
    client_profiles: bool = True
    # How long the caching runtime keeps an answer: the JVM's 30 s at AWS's pace; GameDay.run scales it as the
    # time profile scales record TTLs (6 s under fast), so it weighs against the TTLs as it would on AWS.
    client_dns_cache_s: float = JVM_DNS_CACHE_S
    # None: that cache, the stable window and a few samples (client_grace); pooled and resolve-once clients may
    # never come back before the revert, so this bounds what the watch spends on them.
    profile_grace_s: float | None = None


class Verdict(StrEnum):
    """A scenario's outcome. Only `passed` is green; `not run` (skipped, could not deploy, refused) never is."""

    PASSED = "passed"
    FAILED = "failed"  # the stack did not recover as promised (or not within budget)
    ERROR = "error"  # the suite broke while running it: no verdict on the stack
    NOT_RUN = "not run"  # it never started: the reason says why


@dataclass(frozen=True)
class Headline:
    """The one number a judged scenario stands on when it has no failover time (e.g. a per-request penalty)."""

    label: str
    seconds: float


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    message: str
    headline: Headline | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))


@dataclass(frozen=True)
class ScenarioResult:
    stack_id: str
    scenario: str
    fault: str
    target: str
    backend: str
    profile: str
    budget_s: float
    fault_at: float | None
    failover: FailoverResult | None
    prediction: Prediction | None
    verdict: Verdict
    message: str
    timeline: Timeline = field(repr=False)
    headline: Headline | None = None
    # Scenario-specific facts for the reports, e.g. one variant's reading in a side-by-side comparison.
    details: dict[str, Any] = field(default_factory=dict)
    # The RTO rule on the primary probe, from the fault to the end of the watch (None: no fault, no watch).
    rto: RtoReading | None = None
    # What each client profile saw, and the profiles this scenario could not have (gameday.clients).
    clients: tuple[ProfileRecovery, ...] = ()
    clients_omitted: tuple[OmittedProfile, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    @property
    def failover_time_s(self) -> float | None:
        return self.failover.failover_time_s if self.failover else None

    @property
    def measure(self) -> str:
        """What `measured_s` is: the failover time, or a judged scenario's own headline."""
        return self.headline.label if self.headline else "failover time"

    @property
    def measured_s(self) -> float | None:
        return self.headline.seconds if self.headline else self.failover_time_s

    def to_dict(self, *, with_timeline: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "stack": self.stack_id, "scenario": self.scenario, "fault": self.fault,
            "target": self.target, "backend": self.backend, "profile": self.profile,
            "budget_s": self.budget_s, "fault_at": self.fault_at,
            "failover_time_s": self.failover_time_s, "verdict": str(self.verdict), "message": self.message,
            "measure": self.measure, "measured_s": self.measured_s,
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "failover": self.failover.to_dict() if self.failover else None,
        }
        if self.details:
            data["details"] = dict(self.details)
        if self.rto is not None:
            data["rto"] = self.rto.to_dict()
        if self.failover is not None:
            data["outages"] = summarize_outages(self.failover.outage_windows).to_dict()
        if self.clients or self.clients_omitted:
            data["client_profiles"] = {
                "recoveries": [c.to_dict() for c in self.clients],
                "omitted": [{"key": o.key, "label": o.label, "why": o.why} for o in self.clients_omitted],
                "lines": summary_lines(self.clients, self.clients_omitted)}
        if with_timeline:
            data["timeline"] = self.timeline.to_dict()
        return data


@dataclass
class FailoverRun:
    """Everything one scenario needs, gathered explicitly."""

    backend: Backend
    stack_id: str
    scenario: str
    fault: Fault
    probes: Sequence[Any]  # gameday.probes specs
    primary_probe: str
    budget_s: float
    prediction: Prediction | None
    journal: RollbackJournal
    timeline: Timeline
    clock: Clock
    policy: WatchPolicy = field(default_factory=WatchPolicy)
    # Starts load once steady state holds (so load errors mean the failover, not the deploy).
    load: Callable[[Timeline], AbstractContextManager[Any]] | None = None
    # issue 9 hook: abort (and revert) the fault when one fires, checked at every watch poll.
    stop_conditions: Sequence[StopCondition] = ()
    # Called at every watch poll with the timeline and the fault time (the live progress line).
    progress: Callable[[Timeline, float], None] | None = None
    # Decides the verdict instead of failover time vs budget (e.g. a per-request failover penalty).
    judge: Callable[[FailoverRun, FailoverResult, float], Judgement] | None = None
    # The DNS answers the failover should end at (analysis.analyze's dns_target), when the run goes on
    # past the revert (a failback watched in the tail) and the last answers are the first ones again.
    dns_target: Sequence[str] | None = None
    # More probes that must be steady before the fault and recovered before the watch ends (several
    # services broken at once).
    steady_probes: Sequence[str] = ()
    # The time profile the budget and prediction belong to (on aws: realistic unless --profile says otherwise).
    profile: str = ""
    # Probes that must be steady before the fault but are not watched for a failover (e.g. the service's
    # name resolving while clients use its address): the steady state is the service, not only one path to it.
    ready_probes: Sequence[str] = ()
    # Names the causes of a steady state that never comes (ground truth); None: the message says only what
    # the probes saw.
    diagnoser: Diagnoser | None = None


def run_failover(run: FailoverRun) -> ScenarioResult:
    """Run the scenario; a stack that fails is a `failed` verdict, never an exception."""
    started = run.clock.now()
    allowed = LOOPBACK_NETWORKS if run.backend.name == "localcloud" else None
    fault_at: float | None = None
    plan = _client_plan(run)
    watch = _WatchEnd()
    try:
        probes = [*run.probes, *plan.added]
        with ProbeRunner(run.timeline, probes, clock=run.clock, allowed_networks=allowed) as runner:
            _wait_steady(run)
            with run.load(run.timeline) if run.load else nullcontext():
                if run.load:
                    _sleep_until(run.clock, run.clock.monotonic() + run.policy.load_warmup_s)
                with injected(run.fault, backend=run.backend, journal=run.journal, timeline=run.timeline,
                              clock=run.clock) as fault_at:
                    try:
                        _watch(run, fault_at, settled(plan, probes, run.policy.stable_window_s, runner.streak))
                    finally:
                        watch.at = run.clock.now()
                _sleep_until(run.clock, run.clock.monotonic() + run.policy.tail_s)
    except SteadyStateNotReached as exc:
        _collect_ground_truth(run, started)
        return _result(run, fault_at, None, Verdict.FAILED, str(exc))
    except StopConditionHit as exc:  # issue 9 hook: the fault was reverted early; report what clients saw
        _collect_ground_truth(run, started)
        failover = analyze(run.timeline, fault_at=fault_at, probe=run.primary_probe,
                           stable_window_s=run.policy.stable_window_s,
                           dns_target=run.dns_target) if fault_at is not None else None
        return _with_clients(_result(run, fault_at, failover, Verdict.FAILED, str(exc)), run, plan, watch.at)
    _collect_ground_truth(run, started)
    assert fault_at is not None
    failover = analyze(run.timeline, fault_at=fault_at, probe=run.primary_probe,
                       stable_window_s=run.policy.stable_window_s, dns_target=run.dns_target)
    rto = _rto(run, fault_at, watch.at)
    judged = run.judge(run, failover, fault_at) if run.judge else Judgement(*_verdict(run, failover, rto))
    return _with_clients(_result(run, fault_at, failover, judged.verdict, judged.message, judged.headline),
                         run, plan, watch.at, rto)


@dataclass
class _WatchEnd:
    """When the watch ended (the revert starts): the end of the RTO's and the profiles' window."""

    at: float | None = None


def _client_plan(run: FailoverRun) -> ProfilePlan:
    if not run.policy.client_profiles:
        return ProfilePlan()
    return plan_for_run(run.primary_probe, run.probes, run.backend, run.policy.client_dns_cache_s)


def client_grace(policy: WatchPolicy) -> float:
    """How long after the primary is stable the watch waits for the client profiles to settle."""
    if policy.profile_grace_s is not None:
        return policy.profile_grace_s
    return policy.client_dns_cache_s + policy.stable_window_s + PROFILE_SAMPLES_GRACE_S


def _rto(run: FailoverRun, fault_at: float, watch_end: float | None) -> RtoReading:
    end = watch_end if watch_end is not None else run.clock.now()
    return evaluate_rto(run.timeline.samples_of(run.primary_probe), fault_at=fault_at, end_at=end,
                        rto_s=run.budget_s, rule=run.policy.rto)


def _with_clients(result: ScenarioResult, run: FailoverRun, plan: ProfilePlan, watch_end: float | None,
                  rto: RtoReading | None = None) -> ScenarioResult:
    """The result with the RTO reading and what every client profile saw until the revert."""
    if result.fault_at is None:
        return replace(result, clients_omitted=plan.omitted)
    end = watch_end if watch_end is not None else run.clock.now()
    found = recoveries(plan, run.timeline.samples_of, fault_at=result.fault_at, end_at=end,
                       stable_window_s=run.policy.stable_window_s)
    return replace(result, rto=rto or _rto(run, result.fault_at, end), clients=found, clients_omitted=plan.omitted)


def steady_timeout(profile: Profile) -> float:
    """How long a steady state may take to come under `profile`: STEADY_TIMEOUT_S scaled as the profile
    scales Route 53's health-check interval, the slowest thing a fresh stack waits for."""
    return max(STEADY_TIMEOUT_FLOOR_S, STEADY_TIMEOUT_S * factor(profile, "route53.health_check.interval"))


def _wait_steady(run: FailoverRun) -> None:
    """Until every steady probe answered OK enough times in a row; a steady state that cannot come (ground
    truth says so for FATAL_GRACE_S) or does not come within the timeout fails, naming its cause first."""
    policy = run.policy
    timeout_s = policy.steady_timeout_s or STEADY_TIMEOUT_S
    started = run.clock.monotonic()
    deadline = started + timeout_s
    waiting = [run.primary_probe, *run.steady_probes, *run.ready_probes]
    next_diagnosis = started + DIAGNOSE_EVERY_S
    while run.clock.monotonic() < deadline:
        waiting = [p for p in waiting if not _steady(run.timeline.samples_of(p), policy.steady_consecutive)]
        if not waiting:
            return
        now = run.clock.monotonic()
        if run.diagnoser is not None and now >= next_diagnosis:
            next_diagnosis = now + DIAGNOSE_EVERY_S
            fatal = run.diagnoser.fatal_for(FATAL_GRACE_S, now)
            if fatal:
                raise SteadyStateNotReached(
                    f"steady state cannot be reached: {summarize(fatal)}; {_not_steady(run, waiting[0])} "
                    f"after {now - started:.0f} s", stack=run.stack_id, scenario=run.scenario, phase="steady state")
        run.clock.sleep(policy.poll_s)
    causes = run.diagnoser.explain(_names_of(run, waiting)) if run.diagnoser is not None else []
    why = f"{summarize(causes)}; " if causes else ""
    raise SteadyStateNotReached(
        f"steady state never reached: {why}{_not_steady(run, waiting[0])} within {timeout_s:.0f} s",
        stack=run.stack_id, scenario=run.scenario, phase="steady state")


def _not_steady(run: FailoverRun, probe: str) -> str:
    """What the probe saw, and what its last failure said (who served a fallback, the redirect's target)."""
    samples = run.timeline.samples_of(probe)
    seen = _outcome_counts(samples)
    last = next((s for s in reversed(samples) if not s.good), None)
    said = f"; last: {last.outcome.value}{f' ({last.detail})' if last.detail else ''}" if last else ""
    return (f"{probe} did not answer OK {run.policy.steady_consecutive} times in a row "
            f"(saw {seen or 'no samples'}{said})")


def _names_of(run: FailoverRun, probes: Sequence[str]) -> list[str]:
    """The DNS names the not-yet-steady probes ask (a record that was never written is a cause)."""
    names = []
    for spec in run.probes:
        if getattr(spec, "name", None) not in probes:
            continue
        qname = getattr(spec, "qname", None)
        url = getattr(spec, "url", None)
        host = qname or (urllib.parse.urlsplit(url).hostname if url else None)
        if host and not _is_address(host):
            names.append(host)
    return names


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _steady(samples: Sequence[Sample], consecutive: int) -> bool:
    recent = samples[-consecutive:]
    return len(recent) == consecutive and all(s.good for s in recent)


def _watch(run: FailoverRun, fault_at: float, profiles_settled: Callable[[], bool] = lambda: True) -> None:
    """Sample until the primary probe (and every steady probe) has failed and then been good for the stable
    window, then `hold_s` more, and until every client profile settled or `profile_grace_s` passed; or time
    out."""
    policy = run.policy
    deadline = run.clock.monotonic() + policy.watch_timeout_s
    if policy.fixed_watch_s is not None:
        deadline = run.clock.monotonic() + policy.fixed_watch_s
    stable_since: float | None = None
    while run.clock.monotonic() < deadline:
        stop_if_triggered(run.stop_conditions, run.timeline, run.clock, subject=run.fault.target)  # issue 9 hook
        if run.progress:
            run.progress(run.timeline, fault_at)
        if policy.fixed_watch_s is not None:
            run.clock.sleep(policy.poll_s)
            continue
        if stable_since is None and all(
                _recovered(run.timeline.recent_of(probe, fault_at), fault_at, policy.stable_window_s)
                for probe in [run.primary_probe, *run.steady_probes]):
            stable_since = run.clock.monotonic()
        if stable_since is not None:
            waited = run.clock.monotonic() - stable_since
            if waited >= policy.hold_s and (waited >= client_grace(policy) or profiles_settled()):
                return
        run.clock.sleep(policy.poll_s)


def _recovered(samples: Sequence[Sample], fault_at: float, stable_window_s: float) -> bool:
    """Failed after the fault, then good for the stable window."""
    after = [s for s in samples if s.sent_at >= fault_at]
    last_bad = max((s.sent_at for s in after if not s.good), default=None)
    if last_bad is None:
        return False
    good_since = [s.sent_at for s in after if s.sent_at > last_bad]
    return bool(good_since) and good_since[-1] - good_since[0] >= stable_window_s


def _collect_ground_truth(run: FailoverRun, since: float) -> None:
    try:
        run.timeline.add_events(run.backend.ground_truth(since))
    except Exception as exc:  # ground truth enriches the report; its absence must not hide the verdict
        log.warning("could not read ground truth from %s: %s", run.backend.name, exc)
        run.timeline.add_event(Event(run.clock.now(), "gameday.ground_truth_unavailable", "gameday",
                                     run.backend.name, {"error": str(exc)}))


def _verdict(run: FailoverRun, failover: FailoverResult, rto: RtoReading | None = None) -> tuple[Verdict, str]:
    """Failover time within the budget, and the RTO rule (the budget is the RTO): the success rate reached
    within it and held to the end of the watch; a relapse fails, naming when."""
    if not failover.recovered or failover.failover_time_s is None:
        reached = [p.name for p in failover.phases if p.at is not None]
        last = reached[-1] if reached else "fault"
        return Verdict.FAILED, (f"no recovery within {run.policy.watch_timeout_s:.0f} s of the fault: "
                          f"last phase reached was '{last}'; {run.primary_probe} never served steadily again")
    measured = failover.failover_time_s
    if measured > run.budget_s:
        return Verdict.FAILED, (f"failover took {measured:.2f} s, over the {run.budget_s:.1f} s budget; "
                          f"{_slowest_phase(run, failover)}")
    if rto is not None and not rto.holds:
        return Verdict.FAILED, f"failover {measured:.2f} s, but the {rto.summary()}"
    held = f"; {rto.summary()}" if rto is not None else ""
    return Verdict.PASSED, f"failover {measured:.2f} s within the {run.budget_s:.1f} s budget{held}"


def _slowest_phase(run: FailoverRun, failover: FailoverResult) -> str:
    if run.prediction is not None:  # name the phase against what the configuration implies
        check = took_the_time(compare(failover, run.prediction, run.timeline.snapshot()[1]))
        if check is not None:
            return f"the time went to {describe(check)}"
    timed = [p for p in failover.phases if p.since_fault_s is not None]
    if len(timed) < 2:
        return "no phase breakdown"
    gaps = [(b.since_fault_s - a.since_fault_s, b.name) for a, b in zip(timed, timed[1:], strict=False)
            if a.since_fault_s is not None and b.since_fault_s is not None]
    seconds, name = max(gaps)
    return f"the time went to phase {name}: {seconds:.2f} s"


def _result(run: FailoverRun, fault_at: float | None, failover: FailoverResult | None, verdict: Verdict,
            message: str, headline: Headline | None = None) -> ScenarioResult:
    return ScenarioResult(
        stack_id=run.stack_id, scenario=run.scenario, fault=run.fault.name, target=run.fault.target,
        backend=run.backend.name, profile=run.profile or run.backend.profile, budget_s=run.budget_s, fault_at=fault_at,
        failover=failover, prediction=run.prediction, verdict=verdict, message=message,
        timeline=run.timeline, headline=headline)


def _outcome_counts(samples: Sequence[Sample]) -> str:
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.outcome.value] = counts.get(sample.outcome.value, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _sleep_until(clock: Clock, until_mono: float) -> None:
    clock.sleep(max(0.0, until_mono - clock.monotonic()))
