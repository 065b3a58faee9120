"""Runs probes open-loop: one asyncio loop in a background thread, every probe on its own fixed
schedule. A slow or hung answer never delays the next send (no coordinated omission); how late
each send left is recorded on its sample."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from gameday.clock import Clock, SystemClock
from gameday.errors import ConfigError, ProbeError
from gameday.probes.base import Driver, NetworkGuard, OutsideAllowedNetworks, ProbeContext
from gameday.probes.dns import DnsDriver
from gameday.probes.http import HttpDriver
from gameday.probes.specs import AnyProbe, DnsProbe, HealthProbe, HttpProbe, TcpProbe, parse_http_url
from gameday.probes.tcp import TcpDriver
from gameday.timeline import Outcome, Sample, Timeline

log = logging.getLogger(__name__)

# Spec type -> the driver that sends it. A new probe kind is one spec, one driver, one line here.
DRIVERS: Mapping[type, Callable[[Any, ProbeContext], Driver]] = {
    HttpProbe: HttpDriver, HealthProbe: HttpDriver, DnsProbe: DnsDriver, TcpProbe: TcpDriver,
}

START_DELAY_S = 0.02  # the first sends of all probes share one schedule origin, just after start
DRAIN_GRACE_S = 0.5  # on stop, in-flight samples get their timeout plus this to finish
WATCHDOG_GRACE_S = 1.0  # a driver overrunning its own timeout by this much is cut off
MAX_DURATION_S = 7 * 24 * 3600.0  # "until stop()" still ends somewhere
READY_TIMEOUT_S = 5.0
WAIT_POLL_S = 0.02
_LATENESS_BUCKET_S = 0.0001  # histogram of send lateness, 0.1 ms buckets up to 100 ms
_LATENESS_BUCKETS = 1000


@dataclass(frozen=True)
class ProbeStats:
    """Live counters of one probe, for progress lines and steady-state checks."""

    probe: str
    sent: int
    completed: int
    good: int
    streak: int  # consecutive good samples, in send order, ending at the latest contiguous one
    last_outcome: Outcome | None
    lateness_p99_s: float
    lateness_max_s: float

    @property
    def errors(self) -> int:
        return self.completed - self.good


@dataclass(frozen=True)
class _Origin:
    """The schedule's start: on the loop's clock, and as a timeline offset (`*_mono`)."""

    loop: float
    mono: float


class _Tally:
    __slots__ = ("sent", "completed", "good", "next_seq", "pending", "streak", "last", "late_max", "late")

    def __init__(self) -> None:
        self.sent = self.completed = self.good = self.next_seq = self.streak = 0
        self.pending: dict[int, bool] = {}
        self.last: Outcome | None = None
        self.late_max = 0.0
        self.late = [0] * (_LATENESS_BUCKETS + 1)

    def record(self, sample: Sample) -> None:
        self.completed += 1
        self.good += sample.good
        self.last = sample.outcome
        lateness = max(0.0, sample.lateness_s)
        self.late_max = max(self.late_max, lateness)
        self.late[min(int(lateness / _LATENESS_BUCKET_S), _LATENESS_BUCKETS)] += 1
        self.pending[sample.seq] = sample.good
        while self.next_seq in self.pending:  # answers arrive out of order; streaks follow send order
            self.streak = self.streak + 1 if self.pending.pop(self.next_seq) else 0
            self.next_seq += 1

    def lateness_p99(self) -> float:
        rank, seen = math.ceil(0.99 * self.completed), 0
        for bucket, count in enumerate(self.late):
            seen += count
            if count and seen >= rank:
                return min(self.late_max, (bucket + 1) * _LATENESS_BUCKET_S)  # bucket's upper edge
        return 0.0


class ProbeRunner:
    """Sends every probe on its schedule from `start()` to `stop()` (or `duration_s`), appending
    each sample to `timeline`. A context manager; `stop()` is idempotent and bounded."""

    def __init__(self, timeline: Timeline, probes: Sequence[AnyProbe], clock: Clock | None = None,
                 allowed_networks: Sequence[str] | None = None, *, duration_s: float | None = None) -> None:
        if not probes:
            raise ConfigError("no probes to run")
        names = [p.name for p in probes]
        if len(set(names)) != len(names):
            raise ConfigError(f"probe names must be unique, got {sorted(names)}")
        for spec in probes:
            if type(spec) not in DRIVERS:
                raise ConfigError(f"not a probe spec: {spec!r}")
        if duration_s is not None and not 0 < duration_s <= MAX_DURATION_S:
            raise ConfigError(f"duration must be > 0 and <= {MAX_DURATION_S:g} s, got {duration_s!r}")
        self.timeline = timeline
        self.probes: tuple[AnyProbe, ...] = tuple(probes)
        self._clock: Clock = clock or SystemClock()
        self._guard = NetworkGuard(allowed_networks)
        self._duration_s = duration_s or MAX_DURATION_S
        self._tallies = {name: _Tally() for name in names}
        self._lock = threading.Lock()
        self._state = "new"  # new -> running -> stopped
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._ready = threading.Event()
        self._finished = threading.Event()
        self._crash: BaseException | None = None

    # --- lifecycle ---

    def __enter__(self) -> ProbeRunner:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> ProbeRunner:
        with self._lock:
            if self._state != "new":
                raise ProbeError(f"probe runner already {self._state}")
            self._state = "running"
        try:
            self._check_targets()
        except BaseException:
            self._state = "stopped"
            raise
        self._thread = threading.Thread(target=self._thread_main, name="gameday-probes", daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S) or self._crash is not None:
            self.stop()
            raise ProbeError("probe loop failed to start") from self._crash
        return self

    def stop(self) -> None:
        with self._lock:
            if self._state == "stopped":
                return
            was_running, self._state = self._state == "running", "stopped"
        if not was_running or self._thread is None:
            return
        loop, stop_requested = self._loop, self._stop_requested
        if loop is not None and stop_requested is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended on its own
                loop.call_soon_threadsafe(stop_requested.set)
        self._thread.join(max(p.timeout_s for p in self.probes) + DRAIN_GRACE_S + WATCHDOG_GRACE_S + 2.0)
        if self._thread.is_alive():
            raise ProbeError("probe loop did not stop in time")
        self._raise_if_crashed()

    @property
    def running(self) -> bool:
        return self._state == "running" and not self._finished.is_set()

    def wait_done(self, timeout_s: float) -> bool:
        """Block until a `duration_s` run has sent and collected everything (or `timeout_s`)."""
        return self._finished.wait(timeout_s)

    # --- watching ---

    def stats(self) -> dict[str, ProbeStats]:
        with self._lock:
            return {name: ProbeStats(name, t.sent, t.completed, t.good, t.streak, t.last,
                                     t.lateness_p99(), t.late_max) for name, t in self._tallies.items()}

    def streak(self, probe: str) -> int:
        with self._lock:
            return self._tallies[probe].streak

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Poll `predicate` until it holds (True) or `timeout_s` passes (False)."""
        deadline = self._clock.monotonic() + timeout_s
        for _ in range(int(timeout_s / WAIT_POLL_S) + 2):
            self._raise_if_crashed()
            if predicate():
                return True
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0 or self._finished.is_set():
                break
            self._finished.wait(min(WAIT_POLL_S, remaining))
        return predicate()

    def wait_for_streak(self, count: int, timeout_s: float, probes: Sequence[str] | None = None) -> bool:
        """Steady state: every probe (or those named) has `count` consecutive good samples."""
        names = list(probes) if probes is not None else [p.name for p in self.probes]
        unknown = set(names) - set(self._tallies)
        if unknown:
            raise ConfigError(f"unknown probes {sorted(unknown)}")
        return self.wait_for(lambda: all(self.streak(n) >= count for n in names), timeout_s)

    def _raise_if_crashed(self) -> None:
        if self._crash is not None:
            raise ProbeError(f"probe loop crashed: {self._crash!r}") from self._crash

    # --- the guard, before anything is sent ---

    def _check_targets(self) -> None:
        if not self._guard.active:
            return
        for spec in self.probes:
            host, port = _host_port(spec)
            server = getattr(spec, "dns_server", None)
            if server is not None:  # the name is resolved there per request, and every answer checked then
                host, port = server
            try:
                addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port,
                                                                           type=socket.SOCK_STREAM)}
            except OSError as exc:
                raise OutsideAllowedNetworks(f"probe {spec.name}: cannot resolve {host} to check it "
                                 f"against the allowed networks: {exc}") from exc
            outside = sorted(a for a in addresses if not self._guard.allows(a))
            if outside:
                raise OutsideAllowedNetworks(f"probe {spec.name}: {spec.target} is outside the allowed networks "
                                 f"({', '.join(outside)} not in {self._guard})")

    # --- the loop thread ---

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by stop()/wait_for(), never lost
            log.exception("probe loop crashed")
            self._crash = exc
        finally:
            self._finished.set()
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        ctx = ProbeContext(clock=self._clock, origin_mono=self.timeline.origin_mono, guard=self._guard)
        drivers = [DRIVERS[type(spec)](spec, ctx) for spec in self.probes]
        inflight: set[asyncio.Task[None]] = set()
        # Sends are timed on the loop's own clock; samples are stamped with the injected one. They
        # are the same clock unless a test injects a fake, which then cannot stall the schedule.
        t0 = _Origin(loop=self._loop.time() + START_DELAY_S,
                     mono=self._clock.monotonic() + START_DELAY_S - self.timeline.origin_mono)
        schedules = [asyncio.create_task(self._schedule(spec, driver, t0, inflight))
                     for spec, driver in zip(self.probes, drivers, strict=True)]
        self._ready.set()
        try:
            stop_wait: asyncio.Task[Any] = asyncio.create_task(self._stop_requested.wait())
            all_sent: asyncio.Future[Any] = asyncio.gather(*schedules)
            await asyncio.wait([all_sent, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            for task in [*schedules, stop_wait]:
                task.cancel()
            await asyncio.gather(*schedules, stop_wait, return_exceptions=True)
            with contextlib.suppress(asyncio.CancelledError):
                await all_sent
            if inflight:
                drain_s = max(p.timeout_s for p in self.probes) + DRAIN_GRACE_S
                await asyncio.wait(set(inflight), timeout=drain_s)
        finally:
            leftovers = set(inflight)
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
            for driver in drivers:
                await driver.aclose()

    async def _schedule(self, spec: AnyProbe, driver: Driver, t0: _Origin,
                        inflight: set[asyncio.Task[None]]) -> None:
        interval = 1.0 / spec.rate_hz
        tally = self._tallies[spec.name]
        loop = asyncio.get_running_loop()
        for seq in range(math.ceil(self._duration_s * spec.rate_hz - 1e-9)):  # 0.7 s * 50 Hz is 35, not 36
            delay = t0.loop + seq * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._one(spec, driver, seq, t0.mono + seq * interval))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            with self._lock:
                tally.sent += 1

    async def _one(self, spec: AnyProbe, driver: Driver, seq: int, scheduled_mono: float) -> None:
        try:
            async with asyncio.timeout(spec.timeout_s + WATCHDOG_GRACE_S):
                sample = await driver.sample(seq, scheduled_mono)
        except Exception as exc:  # a driver bug must cost one sample, not the schedule
            log.warning("probe %s sample %d failed inside the prober: %r", spec.name, seq, exc)
            sample = Sample(probe=spec.name, kind=spec.kind, target=spec.target, seq=seq,
                            scheduled_mono=scheduled_mono, sent_mono=scheduled_mono,
                            sent_at=round(self.timeline.origin_at + scheduled_mono, 6),
                            outcome=Outcome.ERROR, latency_s=None, detail=f"prober error: {exc!r}")
        self.timeline.add_sample(sample)
        with self._lock:
            self._tallies[spec.name].record(sample)


def _host_port(spec: AnyProbe) -> tuple[str, int]:
    if isinstance(spec, HttpProbe | HealthProbe):
        target = parse_http_url(spec.url)
        return target.host, target.port
    if isinstance(spec, DnsProbe):
        return spec.server
    return spec.host, spec.port
