"""static-ip-haproxy under load with no fault (the write-up's 10x and soak tests): readings of a timeline and
the verdicts on them. Pure functions: what the load saw (rate, error rate, p99), whether every proxy stayed
healthy (its health endpoint, its Route 53 check, its address in the weighted answers), and how latency
drifted between the first and the last window of a soak."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameday.analysis import percentiles
from gameday.kits.blocks.dns_answers import answered
from gameday.kits.static_ip_haproxy.measure import record
from gameday.load.analysis import is_load
from gameday.timeline import Timeline

# All four addresses must show up in every run of this many consecutive weighted answers: with four healthy
# records each answer names one at random, so a healthy one is missing from 60 with odds 4 x 0.75^60 ~ 1e-7.
ANSWERS_PER_WINDOW = 60
ACHIEVED_SHARE = 0.8  # the load generator must reach this share of the rate asked, or there is no verdict


@dataclass(frozen=True)
class LoadWindow:
    """What the load saw in [start, end): requests, errors and latency of the answered ones."""

    start: float
    end: float
    requests: int
    errors: int
    p99_s: float | None

    @property
    def rate(self) -> float:
        return self.requests / (self.end - self.start) if self.end > self.start else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        p99 = f"{self.p99_s * 1000:.0f} ms" if self.p99_s is not None else "none answered"
        return (f"{self.requests} requests ({self.rate:.0f}/s), {self.errors} errors ({self.error_rate:.2%}), "
                f"p99 {p99}")


def load_window(timeline: Timeline, start: float, end: float) -> LoadWindow:
    """The load's requests sent in [start, end) (a request belongs to the moment it was sent). One streamed pass
    keeping counts and the good requests' latencies, not the samples (a three-hour soak has millions)."""
    count = errors = 0
    latencies: list[float] = []
    for sample in timeline.iter_samples():
        if not (is_load(sample) and start <= sample.sent_at < end):
            continue
        count += 1
        if not sample.good:
            errors += 1
        elif sample.latency_s is not None:
            latencies.append(sample.latency_s)
    return LoadWindow(start, end, count, errors, percentiles(latencies).p99)


def health_failures(timeline: Timeline, probes: Sequence[str], since: float) -> dict[str, int]:
    """Per health probe, the samples since `since` that were not a 200 (an empty dict: all stayed 200)."""
    failed = {probe: sum(not s.good for s in timeline.samples_of(probe) if s.sent_at >= since) for probe in probes}
    return {probe: n for probe, n in failed.items() if n}


def unhealthy_checks(timeline: Timeline, since: float) -> list[str]:
    """Route 53 health checks published unhealthy since `since` (ground truth; empty without it)."""
    return sorted({e.subject for e in timeline.events_of("localcloud.route53.health")
                   if e.at >= since and e.detail.get("published") and e.detail.get("healthy") is False})


def missing_from_dns(timeline: Timeline, probe: str, addresses: Sequence[str], since: float,
                     per_window: int = ANSWERS_PER_WINDOW) -> list[tuple[float, tuple[str, ...]]]:
    """Windows of `per_window` consecutive answers that did not name every address: (start s, missing).
    A trailing window shorter than `per_window` is not judged (too few answers to expect all four)."""
    samples = answered(timeline, probe, since)
    gaps = []
    for index in range(0, len(samples) - per_window + 1, per_window):
        window = samples[index:index + per_window]
        seen = {a for s in window for a in s.answers}
        missing = tuple(a for a in addresses if a not in seen)
        if missing:
            gaps.append((window[0].sent_at - since, missing))
    return gaps


@dataclass(frozen=True)
class ProxyHealth:
    """Whether every proxy stayed healthy under the load, and why not."""

    health_failed: dict[str, int]
    unhealthy: list[str]
    dns_gaps: list[tuple[float, tuple[str, ...]]]

    @property
    def healthy(self) -> bool:
        return not (self.health_failed or self.unhealthy or self.dns_gaps)

    def describe(self) -> str:
        if self.healthy:
            return "every health endpoint stayed 200 and all four addresses stayed in DNS"
        told = []
        if self.health_failed:
            told.append("health endpoints failed " + ", ".join(f"{p} {n}x" for p, n in self.health_failed.items()))
        if self.unhealthy:
            told.append(f"Route 53 marked {len(self.unhealthy)} health check(s) unhealthy")
        if self.dns_gaps:
            at, missing = self.dns_gaps[0]
            told.append(f"{', '.join(missing)} missing from the DNS answers from {at:.0f} s "
                        f"({len(self.dns_gaps)} window(s) of {ANSWERS_PER_WINDOW} answers)")
        return "; ".join(told)


def proxy_health(timeline: Timeline, health_probes: Sequence[str], dns_probe: str, addresses: Sequence[str],
                 since: float) -> ProxyHealth:
    reading = ProxyHealth(health_failures(timeline, health_probes, since), unhealthy_checks(timeline, since),
                          missing_from_dns(timeline, dns_probe, addresses, since))
    record(timeline, "proxy_health", ",".join(addresses), health_failed=reading.health_failed,
           unhealthy_checks=reading.unhealthy, dns_gaps=[[at, list(m)] for at, m in reading.dns_gaps])
    return reading


def short_of_rate(window: LoadWindow, asked_rate: float) -> str | None:
    """Why the load generator, not the stack, decided the window (None: it sent what was asked)."""
    if window.rate >= ACHIEVED_SHARE * asked_rate:
        return None
    return (f"the load generator sent only {window.rate:.0f} requests/s of the {asked_rate:.0f} asked "
            f"(under {ACHIEVED_SHARE:.0%}): this host could not make the load, so there is no verdict on the stack")


@dataclass(frozen=True)
class LoadBudgets:
    """What the load is judged against (gameday.toml): error rate (share), p99 latency (s), p99 drift (ratio)."""

    error_rate: float
    p99_s: float
    drift: float | None = None


def over_budget(window: LoadWindow, budgets: LoadBudgets) -> list[str]:
    """The budgets a window broke, in words (empty: none)."""
    broken = []
    if window.error_rate > budgets.error_rate:
        broken.append(f"error rate {window.error_rate:.2%} over the {budgets.error_rate:.2%} budget")
    if window.p99_s is None:
        broken.append("no request was answered")
    elif window.p99_s > budgets.p99_s:
        broken.append(f"p99 {window.p99_s * 1000:.0f} ms over the {budgets.p99_s * 1000:.0f} ms budget")
    return broken


@dataclass(frozen=True)
class Drift:
    """p99 of the last window against the first: latency that grows under steady load (a leak, a queue)."""

    first: LoadWindow
    last: LoadWindow

    @property
    def ratio(self) -> float | None:
        if self.first.p99_s is None or self.last.p99_s is None or self.first.p99_s <= 0:
            return None
        return self.last.p99_s / self.first.p99_s

    def describe(self) -> str:
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "unknown"
        return (f"p99 drift {ratio} (first {self.first.end - self.first.start:.0f} s: {self.first.describe()}; "
                f"last: {self.last.describe()})")


def drift(timeline: Timeline, start: float, end: float, window_s: float) -> Drift:
    return Drift(load_window(timeline, start, start + window_s), load_window(timeline, end - window_s, end))
