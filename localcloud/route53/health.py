"""Route 53 health checkers that really probe: every health check in moto's Route 53 backend is probed by
N checkers with independent random phases, each flipping after `FailureThreshold` consecutive results,
and the aggregate is healthy iff more than 18 % of checkers say healthy (docs/aws-timings.md §2.6).

Timing per check comes from the check's own config (`RequestInterval`, `FailureThreshold`), the interval
scaled by the profile (`route53.health_check.interval` / 30: fast = x 0.2); connect and response limits
and the checker count come from the profile. An aggregate flip reaches DNS answers
`route53.status_to_dns` later. `is_healthy()` is the DNS server's `HealthView`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from localcloud.profiles import Delay, Profile
from localcloud.route53.health_probe import Observation, ProbeLimits, Resolve, no_verify_tls, probe

log = logging.getLogger(__name__)

HEALTH_EVENT = "localcloud.route53.health"
REALISTIC_STANDARD_INTERVAL = 30.0  # what the profile's route53.health_check.interval means in AWS
HEALTHY_SHARE = 0.18  # healthy iff MORE than 18 % of checkers report healthy
LATE_SHARE = 0.1  # a request sent this share of its interval past due counts as late
CHECKER_REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2",
                   "ap-northeast-1", "sa-east-1")

EventSink = Callable[[str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class CheckConfig:
    """The parts of a Route 53 `HealthCheckConfig` the checkers act on."""

    id: str
    type: str  # HTTP | HTTPS | HTTP_STR_MATCH | HTTPS_STR_MATCH | TCP | CALCULATED | …
    ip_address: str | None = None
    port: int = 80
    resource_path: str = "/"
    fqdn: str | None = None
    search_string: str | None = None
    request_interval: int = 30
    failure_threshold: int = 3
    inverted: bool = False
    disabled: bool = False
    children: tuple[str, ...] = ()
    health_threshold: int = 1

    @property
    def probed(self) -> bool:
        return self.type in ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")


class CheckSource(Protocol):
    def checks(self) -> dict[str, CheckConfig]: ...


class MotoHealthChecks:
    """The live health checks of moto's Route 53 backend in this process."""

    def __init__(self, account_id: str | None = None, partition: str = "aws") -> None:
        self._account_id = account_id
        self._partition = partition

    def checks(self) -> dict[str, CheckConfig]:
        from moto.backends import get_backend

        from localcloud.route53.moto_bridge import default_account

        backend = get_backend("route53")[self._account_id or default_account()][self._partition]
        return {hc_id: config_from_moto(raw) for hc_id, raw in list(backend.health_checks.items())}


def config_from_moto(raw: Any) -> CheckConfig:
    return CheckConfig(
        id=str(raw.id), type=str(raw.type_ or "HTTP").upper(), ip_address=raw.ip_address or None,
        port=int(raw.port or 80), resource_path=str(raw.resource_path or "/"), fqdn=raw.fqdn or None,
        search_string=raw.search_string or None, request_interval=int(raw.request_interval or 30),
        failure_threshold=int(raw.failure_threshold or 3), inverted=_flag(raw.inverted),
        disabled=_flag(raw.disabled), children=tuple(raw.children or ()),
        health_threshold=int(raw.health_threshold or 0))


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


@dataclass
class CheckerState:
    """One checker's view of one endpoint: flips after `threshold` consecutive opposite results."""

    threshold: int
    healthy: bool = True  # a new check counts as healthy until there is enough data
    streak: int = 0
    last: Observation | None = None

    def observe(self, observation: Observation) -> bool:
        """Record one probe result; True if this checker's verdict flipped."""
        self.last = observation
        if observation.ok == self.healthy:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak < self.threshold:
            return False
        self.healthy, self.streak = observation.ok, 0
        return True


def aggregate_healthy(checker_verdicts: list[bool]) -> bool:
    """Route 53's rule: healthy iff more than 18 % of the checkers report healthy."""
    if not checker_verdicts:
        return True
    return sum(checker_verdicts) > HEALTHY_SHARE * len(checker_verdicts)


@dataclass
class CheckerTiming:
    """How late the checkers send their requests against the interval they keep: a checker is due one
    interval after its last response; sent later than that, our own process starved it (Route 53's never are)."""

    probes: int = 0
    late: int = 0  # sent more than LATE_SHARE of an interval after due
    max_late_s: float = 0.0
    total_late_s: float = 0.0

    def record(self, late_s: float, interval_s: float) -> None:
        self.probes += 1
        self.total_late_s += late_s
        self.max_late_s = max(self.max_late_s, late_s)
        if late_s > LATE_SHARE * interval_s:
            self.late += 1

    def describe(self) -> dict[str, float]:
        mean = self.total_late_s / self.probes if self.probes else 0.0
        return {"probes": self.probes, "late": self.late, "mean_late_s": round(mean, 4),
                "max_late_s": round(self.max_late_s, 4)}


@dataclass
class _Check:
    config: CheckConfig
    checkers: list[CheckerState]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    healthy: bool = True  # the aggregate as the checkers see it
    published: bool = True  # the aggregate as DNS answers see it
    version: int = 0


class HealthCheckers:
    """A localcloud Service (`start/stop/describe`) and a `HealthView` (`is_healthy`)."""

    def __init__(self, profile: Profile | None = None, *, rng: random.Random | None = None,
                 on_event: EventSink | None = None, source: CheckSource | None = None,
                 resolve: Resolve | None = None, interval_scale: float | None = None,
                 checkers: int | None = None, limits: ProbeLimits | None = None,
                 status_to_dns: Delay | None = None, poll_interval: float = 0.25) -> None:
        self._rng = rng or random.Random()
        self._on_event = on_event
        self._source: CheckSource = source or MotoHealthChecks()
        self._resolve = resolve
        self._scale = interval_scale if interval_scale is not None else _interval_scale(profile)
        self._count = checkers or (profile.count("route53.health_check.checkers") if profile else 15)
        self._limits = limits or (ProbeLimits.for_profile(profile) if profile else ProbeLimits())
        self._status_delay = status_to_dns or (_optional_delay(profile, "route53.status_to_dns"))
        self._poll_interval = poll_interval
        self._checks: dict[str, _Check] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._poller: asyncio.Task[None] | None = None
        self.timing = CheckerTiming()
        self._tls = no_verify_tls()  # one for every HTTPS check: a context is costly to make, cheap to share

    # --- HealthView ---

    def is_healthy(self, health_check_id: str) -> bool:
        """The verdict DNS answers see (unknown ids, e.g. a check created a moment ago, are healthy)."""
        with self._lock:
            check = self._checks.get(health_check_id)
            if check is None:
                return True
            if check.config.type == "CALCULATED":
                return self._calculated(check.config)
            return check.published

    def _calculated(self, config: CheckConfig) -> bool:
        children = [self._checks.get(c) for c in config.children]
        healthy = sum(1 for c in children if c is None or c.published)
        result = healthy >= config.health_threshold
        return result != config.inverted if not config.disabled else True

    def observations(self, health_check_id: str) -> list[tuple[str, Observation | None]]:
        """Each checker's last observation, labelled with its region (GetHealthCheckStatus)."""
        with self._lock:
            check = self._checks.get(health_check_id)
            if check is None:
                return []
            return [(CHECKER_REGIONS[i % len(CHECKER_REGIONS)], c.last) for i, c in enumerate(check.checkers)]

    # --- Service ---

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._poller = loop.create_task(self._poll())
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="localcloud-r53-health", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout=10)
        except Exception:
            log.exception("stopping the health checkers failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            checks = {hc_id: {"type": c.config.type, "healthy": c.healthy, "published": c.published,
                              "checkers_healthy": sum(s.healthy for s in c.checkers),
                              "checkers": len(c.checkers)} for hc_id, c in self._checks.items()}
        return {"running": self._thread is not None, "interval_scale": self._scale, "checkers": self._count,
                "checks": checks, "timing": self.timing.describe()}

    def __enter__(self) -> HealthCheckers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the loop side ---

    async def _shutdown(self) -> None:
        tasks = [t for c in self._checks.values() for t in c.tasks]
        if self._poller is not None:
            tasks.append(self._poller)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with self._lock:
            self._checks.clear()

    async def _poll(self) -> None:
        while True:
            try:
                self._sync(self._source.checks())
            except Exception:  # moto mid-reset or a malformed check: try again next round
                log.exception("reading health checks failed")
            await asyncio.sleep(self._poll_interval)

    def _sync(self, configs: Mapping[str, CheckConfig]) -> None:
        for hc_id in [i for i in self._checks if i not in configs]:
            for task in self._checks[hc_id].tasks:
                task.cancel()
            with self._lock:
                del self._checks[hc_id]
        for hc_id, config in configs.items():
            current = self._checks.get(hc_id)
            if current is not None and current.config == config:
                continue
            if current is not None:  # an updated check keeps its state but re-reads its config
                with self._lock:
                    current.config = config
                continue
            self._add(config)

    def _add(self, config: CheckConfig) -> None:
        check = _Check(config, [CheckerState(max(1, config.failure_threshold)) for _ in range(self._count)])
        with self._lock:
            self._checks[config.id] = check
        if config.probed:
            interval = config.request_interval * self._scale
            for index in range(self._count):
                phase = self._rng.uniform(0, interval)
                check.tasks.append(asyncio.ensure_future(self._checker(check, index, phase)))

    async def _checker(self, check: _Check, index: int, phase: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + phase
        await asyncio.sleep(phase)
        while True:
            config = check.config
            interval = config.request_interval * self._scale
            late = max(0.0, loop.time() - due)
            with self._lock:
                self.timing.record(late, interval)
            try:
                observation = await probe(config, self._limits, self._resolve, self._tls)
            except Exception as exc:  # a checker that died would hold its last verdict for ever: count it a failure
                log.exception("health check %s: checker %d's probe broke", config.id, index)
                observation = Observation(False, f"Failure: {type(exc).__name__}: {exc}", None, time.time(), 0.0)
            if config.disabled:
                observation = replace(observation, ok=True)
            elif config.inverted:
                observation = replace(observation, ok=not observation.ok)
            with self._lock:
                flipped = check.checkers[index].observe(observation)
            if flipped:
                self._reaggregate(check, observation, late)
            # The interval runs from "response received" to "next request sent" (docs/aws-timings.md §2.1),
            # counted from when the request was due: a checker our busy process woke late catches up at its
            # next request instead of carrying the delay into every later one (a threshold of 3 would add it 3x);
            # a request missed altogether is not made up for with a burst.
            due = max(due + observation.duration + interval, loop.time())
            await asyncio.sleep(due - loop.time())

    def _reaggregate(self, check: _Check, observation: Observation, late: float = 0.0) -> None:
        with self._lock:
            healthy = aggregate_healthy([c.healthy for c in check.checkers])
            if healthy == check.healthy:
                return
            check.healthy = healthy
            check.version += 1
            version = check.version
            healthy_count = sum(c.healthy for c in check.checkers)
            timing = self.timing.describe()
        delay = self._status_delay.sample(self._rng) if self._status_delay else 0.0
        config = check.config
        self._emit(config.id, {"health_check_id": config.id, "healthy": healthy, "published": False,
                               "ip": config.ip_address, "fqdn": config.fqdn, "port": config.port,
                               "type": config.type, "reason": observation.reason,
                               "checkers_healthy": healthy_count, "checkers": len(check.checkers),
                               "dns_after_s": round(delay, 3), "probe_s": round(observation.duration, 3),
                               "late_s": round(late, 3), "checkers_timing": timing})
        assert self._loop is not None
        self._loop.call_later(delay, self._publish, check, version, healthy)

    def _publish(self, check: _Check, version: int, healthy: bool) -> None:
        with self._lock:
            if check.version != version or self._checks.get(check.config.id) is not check:
                return
            check.published = healthy
        config = check.config
        self._emit(config.id, {"health_check_id": config.id, "healthy": healthy, "published": True,
                               "ip": config.ip_address, "fqdn": config.fqdn, "port": config.port,
                               "type": config.type})

    def _emit(self, subject: str, detail: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(HEALTH_EVENT, subject, detail)
        except Exception:
            log.exception("health event sink failed")


def _interval_scale(profile: Profile | None) -> float:
    if profile is None:
        return 1.0
    return profile.delay("route53.health_check.interval").mean / REALISTIC_STANDARD_INTERVAL


def _optional_delay(profile: Profile | None, key: str) -> Delay | None:
    if profile is None or key not in profile.delays:
        return None
    return profile.delay(key)
