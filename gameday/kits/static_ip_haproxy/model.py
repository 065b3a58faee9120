"""static-ip-haproxy: T_C = D_R53(I, F, t_f) + p_R53 (+ TTL for caching clients) (docs/aws-timings.md §15 B1/B7,
§16.3), read from the deployed stack's own health-check interval, failure threshold and TTLs.

The client probe resolves through the authoritative server at every connection (no cache), so its
failover ends when the dead address leaves the answers: F x (I + t_f) + status-to-DNS. A resolver that
caches adds up to the record TTL on top (reported as its own phase, not part of the probe's sum).
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.kits.kit import Deployment
from gameday.model import PredictedPhase, Prediction, StackConfig, fixed, phase
from gameday.preflight import Check, PreflightContext
from gameday.preflight import n_minus_one as n_minus_one_check
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "static-ip-haproxy"
HEALTH_CHECK = "ProxyHealthCheckA1"  # all four share one configuration
# HAProxy's own timers are real (not profile-scaled): they are written in haproxy.cfg.
HAPROXY_TIMEOUT_RESOLVE_S = 1.0
HAPROXY_INTER_S = 2.0
HAPROXY_FALL = 3


@dataclass(frozen=True)
class HealthTiming:
    """The stack's Route 53 health check under a profile."""

    interval_s: float  # RequestInterval, scaled like the profile scales AWS's 30 s
    failure_threshold: int
    black_hole_s: float  # t_f for a black-holed endpoint: the connect limit
    refused_s: float  # t_f for a fast failure (refused, or a 503 from HAProxy)

    def detection_s(self, failing_probe_s: float) -> float:
        """B1 worst case: F x (I + t_f)."""
        return self.failure_threshold * (self.interval_s + failing_probe_s)


def health_timing(profile: Profile, config: StackConfig) -> HealthTiming:
    interval = config.number(HEALTH_CHECK, "HealthCheckConfig", "RequestInterval", default=30)
    threshold = int(config.number(HEALTH_CHECK, "HealthCheckConfig", "FailureThreshold", default=3))
    return HealthTiming(scaled(profile, "route53.health_check.interval", interval), threshold,
                        profile.delay("route53.health_check.connect_timeout").mean, 0.0)


def record_ttl(profile: Profile, config: StackConfig, logical_id: str = "ProxyRecordA1") -> float:
    """The TTL the stack was deployed with (already in this profile's seconds: the scenario passes it)."""
    return config.number(logical_id, "TTL", default=profile.delay("route53.record_ttl").mean)


def _dns_leave(profile: Profile, stack: DeployedStack | None, fault: str, failing_probe: str) -> Prediction:
    config = stack_config(STACK, stack)
    timing = health_timing(profile, config)
    t_f = timing.black_hole_s if failing_probe == "black hole" else timing.refused_s
    detection = timing.detection_s(t_f)
    status = profile.delay("route53.status_to_dns")
    # The worst case is the mean the budgets were set from; a check that comes right after the fault saves
    # up to one interval (the checkers' phase against the fault), so the range reaches one interval lower.
    phases: tuple[PredictedPhase, ...] = (
        PredictedPhase("health_check", detection, max(0.0, detection - timing.interval_s), detection,
                       f"F={timing.failure_threshold} x (I={timing.interval_s:g} s + t_f={t_f:g} s, "
                       f"{failing_probe}), up to one I earlier; template ProxyHealthCheck*", ends_at="health_check"),
        PredictedPhase("status_to_dns", status.mean, status.low, status.high, "route53.status_to_dns",
                       ends_at="stable"),
    )
    ttl = record_ttl(profile, config)
    return Prediction(STACK, fault, profile.name, phases,
                      note=f"client resolves at the authoritative server on every connection; a caching "
                           f"client adds up to TTL {ttl:g} s")


def dns_leave_s(prediction: Prediction) -> float:
    """Predicted time until the dead node's address leaves the DNS answers."""
    return prediction.mean_s


def terminate_proxy(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return _dns_leave(profile, stack, "terminate-instance", "black hole")


def block_az_security_groups(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return _dns_leave(profile, stack, "block-az-security-groups", "black hole")


def block_az_nacl(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return _dns_leave(profile, stack, "block-az-nacl", "black hole")


def backend_loss(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """HAProxy marks the backend DOWN (fall x inter, B7), /health answers 503, then Route 53 sees a fast
    failure: F x I (B1 with t_f ~ 0)."""
    config = stack_config(STACK, stack)
    timing = health_timing(profile, config)
    status = profile.delay("route53.status_to_dns")
    return Prediction(STACK, "backend-loss", profile.name, (
        fixed("haproxy_down", HAPROXY_FALL * HAPROXY_INTER_S, "haproxy.cfg: fall 3 x inter 2s (real seconds)",
              ends_at="detection"),
        fixed("health_check", timing.detection_s(timing.refused_s),
              f"F={timing.failure_threshold} x I={timing.interval_s:g} s (503 is a fast failure)",
              ends_at="health_check"),
        PredictedPhase("status_to_dns", status.mean, status.low, status.high, "route53.status_to_dns"),
    ), note="every node loses the backend: all four leave DNS, then Route 53 fails open and answers all four")


def blue_green_switch(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """UPSERT propagates (route53.change_insync), the VPC resolver's cached answer expires (BackendTtl),
    HAProxy re-resolves on its next `timeout resolve` (B7)."""
    config = stack_config(STACK, stack)
    ttl = config.number("BackendRecord", "TTL", default=5)
    return Prediction(STACK, "blue-green-switch", profile.name, (
        phase(profile, "propagation", "route53.change_insync", ends_at="control_plane"),
        fixed("resolver_cache", ttl, "template BackendRecord TTL (worst case: just cached)"),
        fixed("haproxy_resolve", HAPROXY_TIMEOUT_RESOLVE_S, "haproxy.cfg resolvers: timeout resolve 1s",
              ends_at="stable"),
    ), note="worst case; HAProxy ignores the TTL, the resolver in front of it does not")


# What one HAProxy node carries, for the N-1 pre-flight: the operating point benchmarks/results/load_capacity.json
# measured against one localcloud instance (two locust processes paced at 2,500 requests/s, no errors; flat out,
# locust itself was the limit). On AWS it stands until a team measures its own nodes.
PROXY_CAPACITY_RPS = 2500.0
CAPACITY_SOURCE = "kit constant PROXY_CAPACITY_RPS (benchmarks/load_capacity, localcloud)"


def n_minus_one(ctx: PreflightContext, deployment: Deployment) -> list[Check]:
    """Three proxies carry the load of four: the configured load's peak within what N-1 nodes carry."""
    nodes = len([g for g in deployment.output("ProxyGroups").split(",") if g])
    return [n_minus_one_check(f"{STACK} proxies", nodes, PROXY_CAPACITY_RPS, ctx.load_rps, CAPACITY_SOURCE)]
