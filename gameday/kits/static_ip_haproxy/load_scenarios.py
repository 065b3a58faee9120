"""static-ip-haproxy's load tests as scenarios (the write-up load-tested with Vegeta): *10x-load*, ten times the
normal rate through the four proxies, and a bounded *soak*, steady load for a fixed time. Nothing is broken:
the load is the scenario's own (locust spread over the four addresses, one per user, like clients that each
resolved one weighted answer), and the "fault" is `UnderLoad`, a journalled no-op whose revert is nothing.
They run against a deployment of their own ("load"), so the core scenarios' backend loss cannot spoil them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from gameday.backends.base import Backend
from gameday.faults import Fault, FaultPlan, RevertAction, Target
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.kits.static_ip_haproxy.judges import CLIENT_PROBE, DNS_PROBE, Judge
from gameday.kits.static_ip_haproxy.load_judges import (
    LoadBudgets,
    drift,
    load_window,
    over_budget,
    proxy_health,
    short_of_rate,
)
from gameday.kits.static_ip_haproxy.measure import record
from gameday.kits.static_ip_haproxy.model import STACK
from gameday.kits.static_ip_haproxy.steady import SLOTS, Proxies, authoritative_server, not_steady, proxies
from gameday.load import LoadConfig, running
from gameday.probes import DnsProbe, HealthProbe, HttpProbe
from gameday.scenario import FailoverRun, Headline, Judgement, ScenarioResult, Verdict, WatchPolicy, steady_timeout
from gameday.session import GameDay
from gameday.stopconditions import StopSpec
from gameday.timeline import Timeline

LOAD_DEPLOYMENT = "load"
# The normal load: users (two per address) and requests/s over all of them; `--load-users`/`--load-rate`
# change it. 10x runs ten times the users at the same per-user pace.
NORMAL_USERS = 8
NORMAL_RATE = 20.0
NORMAL_S = 10.0  # 10x: normal load this long before the step
PEAK_S = {"fast": 30.0, "realistic": 120.0}  # 10x: how long the peak is watched
SPAWN_S = 2.0  # the step's users are all running within this (locust spawns the peak in one second)
SOAK_S = {"fast": 600.0, "realistic": 3600.0}  # the soak's hold; `--load-duration S` sets it (at most 24 h)
SOAK_RAMP_S = 10.0
DRIFT_WINDOW_SHARE = 0.1  # the soak's first and last windows: a tenth of the hold each, at least 30 s
DRIFT_WINDOW_MIN_S = 30.0
SHAPE_SLACK_S = 30.0  # locust's shape outlives the watch by this much (start-up, the tail)
CLIENT_TIMEOUT_S = 2.0


@dataclass
class UnderLoad:
    """The fault of a load test: nothing. It changes no resource (its targets are the four proxy groups the
    load reaches, named so the blast-radius guard can place them), so its revert is `none`; the journal and
    the timeline still show when the load was judged from."""

    name: str
    load: str  # the load in words
    groups: tuple[str, ...]

    @property
    def target(self) -> str:
        return f"the {len(self.groups)} proxy groups (load only)"

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, tuple(Target("autoscaling:group", g, note="receives the load; unchanged")
                                          for g in self.groups),
                         f"no change to any resource: {self.load}",
                         RevertAction("none", {}, "nothing to revert: no resource was changed; the load stops "
                                                  "by itself"))

    def inject(self) -> None:
        """Nothing to break: the load generator, already running, is the fault."""


def _under_load(name: str, load: str) -> Callable[[Backend, Deployment], Fault]:
    def build(backend: Backend, deployment: Deployment) -> Fault:
        return UnderLoad(name, load, tuple(deployment.output("ProxyGroups").split(",")))
    return build


def load_probes(stack: Proxies, rate_hz: float) -> list[HttpProbe | DnsProbe | HealthProbe]:
    """The client through the service's name, the weighted answers, and every proxy's health endpoint; a soak
    samples slower (its timeline holds every sample of the whole hold)."""
    return [HttpProbe(CLIENT_PROBE, f"https://{stack.name}/", rate_hz=rate_hz, timeout_s=CLIENT_TIMEOUT_S,
                      verify_tls=False, dns_server=stack.authoritative, expect_identity="blue/"),
            DnsProbe(DNS_PROBE, stack.name, "A", server=stack.authoritative, rate_hz=rate_hz),
            *(HealthProbe(f"health:{slot}", f"http://{ip}:9000/health", rate_hz=rate_hz / 2,
                          timeout_s=CLIENT_TIMEOUT_S) for slot, ip in stack.ips.items())]


def normal_load(game: GameDay) -> tuple[int, float]:
    """(users, requests/s) of the normal load: the kit's, or the run's --load-users/--load-rate."""
    settings = game.load.settings
    return settings.users or NORMAL_USERS, settings.rate or NORMAL_RATE


def soak_s(game: GameDay) -> float:
    """The soak's hold: --load-duration when given (LoadSettings bounds it to 24 h), else the profile's."""
    return game.load.settings.duration_s or SOAK_S.get(game.profile.name, SOAK_S["fast"])


def _load_for(game: GameDay, spec: ScenarioSpec, stack: Proxies,
              config: LoadConfig) -> Callable[[Timeline], AbstractContextManager[Any]]:
    """The scenario's own load: through the four addresses on :443 (TLS passthrough to the backend)."""
    urls = [f"https://{ip}/" for ip in stack.ips.values()]
    spread = config.with_(hosts=tuple(urls[1:]))
    return lambda timeline: running(spread, urls[0], game.paths.folder / spec.name, timeline, clock=game.clock)


def _play_load(game: GameDay, deployment: Deployment, spec: ScenarioSpec, *, config: LoadConfig,
               warmup_s: float, watch_s: float, rate_hz: float,
               judge: Callable[[Proxies], Judge]) -> list[ScenarioResult]:
    """Steady state, then the load; the no-op fault marks where judging starts, the watch lasts `watch_s`."""
    authoritative = authoritative_server(game.backend)
    if authoritative is None:
        return [record_not_run(game, spec, "the backend names no authoritative DNS server to probe")]
    stack = proxies(deployment, authoritative)
    reason = not_steady(game, stack)
    if reason is not None:
        return [record_not_run(game, spec, f"steady state not reached: {reason}", Verdict.FAILED)]
    policy = WatchPolicy(fixed_watch_s=watch_s, load_warmup_s=warmup_s, tail_s=CLIENT_TIMEOUT_S + 1.0,
                         steady_timeout_s=steady_timeout(game.profile))
    return [game.run(stack_id=STACK, scenario=spec.name, fault=spec.faults[0].build(game.backend, deployment),
                     probes=load_probes(stack, rate_hz), primary_probe=CLIENT_PROBE, budget_key=spec.budget_key,
                     stop=spec.stop, policy=policy, judge=judge(stack), load=_load_for(game, spec, stack, config))]


def _budgets(game: GameDay, scenario: str, with_drift: bool = False) -> LoadBudgets:
    """The p99 budget is the scenario's own table; error rate and drift have tables of their own."""
    return LoadBudgets(error_rate=game.budget(STACK, f"{scenario}-errors", f"{scenario}-errors"),
                       p99_s=game.budget(STACK, scenario, scenario),
                       drift=game.budget(STACK, f"{scenario}-drift", f"{scenario}-drift") if with_drift else None)


def _load_started(timeline: Timeline, fallback: float) -> float:
    started = timeline.events_of("load.start")
    return started[0].at if started else fallback


def _health(run: FailoverRun, stack: Proxies, since: float) -> Any:
    return proxy_health(run.timeline, [f"health:{slot}" for slot in SLOTS], DNS_PROBE, list(stack.ips.values()),
                        since)


# 10x-load

def ten_x_judge(budgets: LoadBudgets, peak_rate: float, peak_s: float) -> Callable[[Proxies], Judge]:
    """The peak (from the step's users all running to the end of the watch) within the error-rate and p99
    budgets, every proxy healthy from the first request on; a load generator short of the rate: no verdict."""
    def for_stack(stack: Proxies) -> Judge:
        def judge(run: FailoverRun, failover: Any, fault_at: float) -> Judgement:
            started = _load_started(run.timeline, fault_at - NORMAL_S)
            normal = load_window(run.timeline, started + SPAWN_S, fault_at - SPAWN_S)
            peak = load_window(run.timeline, fault_at + SPAWN_S, fault_at + peak_s)
            health = _health(run, stack, started)
            record(run.timeline, "load_10x", stack.name, normal=normal.describe(), peak=peak.describe(),
                   peak_rate=peak.rate, error_rate=peak.error_rate, p99_s=peak.p99_s)
            text = f"normal: {normal.describe()}; 10x: {peak.describe()}"
            headline = Headline("p99 latency at 10x load", peak.p99_s) if peak.p99_s is not None else None
            short = short_of_rate(peak, peak_rate)
            if short is not None:
                return Judgement(Verdict.ERROR, f"{short}; {text}", headline)
            broken = over_budget(peak, budgets)
            if not health.healthy or broken:
                return Judgement(Verdict.FAILED, f"{'; '.join([*broken, health.describe()])}; {text}", headline)
            return Judgement(Verdict.PASSED, f"{text} (budgets: errors {budgets.error_rate:.2%}, p99 "
                                             f"{budgets.p99_s * 1000:.0f} ms); {health.describe()}", headline)
        return judge
    return for_stack


def run_10x_load(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    users, rate = normal_load(game)
    peak_s = PEAK_S.get(game.profile.name, PEAK_S["fast"])
    config = LoadConfig.for_shape("10x", users=users, rate=rate, step_at_s=NORMAL_S,
                                  duration_s=NORMAL_S + peak_s + SHAPE_SLACK_S)
    return _play_load(game, deployment, spec, config=config, warmup_s=NORMAL_S, watch_s=peak_s, rate_hz=10.0,
                      judge=ten_x_judge(_budgets(game, spec.name), config.peak_rate or rate * 10, peak_s))


# soak

def soak_judge(budgets: LoadBudgets, rate: float, hold_s: float) -> Callable[[Proxies], Judge]:
    """The whole hold within the error-rate and p99 budgets, p99 of its last window at most `drift` times its
    first's, every proxy healthy throughout; a load generator short of the rate: no verdict."""
    def for_stack(stack: Proxies) -> Judge:
        def judge(run: FailoverRun, failover: Any, fault_at: float) -> Judgement:
            whole = load_window(run.timeline, fault_at, fault_at + hold_s)
            window_s = max(DRIFT_WINDOW_MIN_S, DRIFT_WINDOW_SHARE * hold_s)
            moved = drift(run.timeline, fault_at, fault_at + hold_s, window_s)
            health = _health(run, stack, _load_started(run.timeline, fault_at))
            record(run.timeline, "soak", stack.name, hold_s=hold_s, whole=whole.describe(), drift=moved.ratio,
                   first_p99_s=moved.first.p99_s, last_p99_s=moved.last.p99_s, error_rate=whole.error_rate)
            text = f"{hold_s:.0f} s at {rate:.0f}/s: {whole.describe()}; {moved.describe()}"
            headline = Headline("p99 latency over the soak", whole.p99_s) if whole.p99_s is not None else None
            short = short_of_rate(whole, rate)
            if short is not None:
                return Judgement(Verdict.ERROR, f"{short}; {text}", headline)
            broken = over_budget(whole, budgets)
            if budgets.drift is not None and (moved.ratio is None or moved.ratio > budgets.drift):
                broken.append(f"p99 drifted {moved.ratio or float('nan'):.2f}x, over the {budgets.drift:.2f}x budget")
            if not health.healthy or broken:
                return Judgement(Verdict.FAILED, f"{'; '.join([*broken, health.describe()])}; {text}", headline)
            return Judgement(Verdict.PASSED, f"{text} (budgets: errors {budgets.error_rate:.2%}, p99 "
                                             f"{budgets.p99_s * 1000:.0f} ms, drift {budgets.drift:.2f}x); "
                                             f"{health.describe()}", headline)
        return judge
    return for_stack


def run_soak(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    users, rate = normal_load(game)
    hold_s = soak_s(game)
    config = LoadConfig.for_shape("soak", users=users, rate=rate, ramp_s=SOAK_RAMP_S,
                                  duration_s=SOAK_RAMP_S + hold_s + SHAPE_SLACK_S)
    return _play_load(game, deployment, spec, config=config, warmup_s=SOAK_RAMP_S, watch_s=hold_s, rate_hz=2.0,
                      judge=soak_judge(_budgets(game, spec.name, with_drift=True), rate, hold_s))


REVERT = "nothing: no resource is changed (the load stops by itself)"
LOAD_SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/10x-load", STACK,
        "ten times the normal request rate through the four addresses: error rate and p99 within budget, every "
        "health endpoint 200 and all four addresses in DNS throughout",
        (FaultSpec("load-10x", "no resource: locust steps to ten times the normal users (the four proxy groups "
                               "take the load)", REVERT, _under_load("load-10x", "ten times the normal load")),),
        run_10x_load, StopSpec(probe=CLIENT_PROBE, floor=0.5), extended=True, deployment=LOAD_DEPLOYMENT,
        budget="10x-load"),
    ScenarioSpec(
        f"{STACK}/soak", STACK,
        "steady load for a fixed time (10 min under fast, `--load-duration S` up to 24 h): errors, p99 drift "
        "(last window vs first) and every proxy staying healthy",
        (FaultSpec("soak", "no resource: locust holds the normal load (the four proxy groups take it)", REVERT,
                   _under_load("soak", "the normal load, held")),),
        run_soak, StopSpec(probe=CLIENT_PROBE, floor=0.5), extended=True, deployment=LOAD_DEPLOYMENT,
        budget="soak"),
)
