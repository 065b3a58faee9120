"""The timing settings of ANY template, found by resource type (never by logical id): Route 53 health checks
(RequestInterval, FailureThreshold), record TTLs (RecordSet and RecordSetGroup) and Auto Scaling groups
(HealthCheckType, HealthCheckGracePeriod), read from the deployed template and parameters
(`stacks.stack_config`), and the predicted phases they imply with the time profile's keys.

A health-checked record leaves DNS after F x (I + t_f) + status-to-DNS (docs/aws-timings.md §15 B1, §16.3);
it comes back after F successes (F x I) + status-to-DNS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.model import PredictedPhase, fixed
from gameday.stacks import DeployedStack, stack_config
from gameday.template import StackConfig
from localcloud.profiles import Profile
from localcloud.timescale import scaled

HEALTH_CHECK = "AWS::Route53::HealthCheck"
RECORD_SET = "AWS::Route53::RecordSet"
RECORD_SET_GROUP = "AWS::Route53::RecordSetGroup"
AUTO_SCALING_GROUP = "AWS::AutoScaling::AutoScalingGroup"
# Route 53's defaults when a template leaves them out.
DEFAULT_INTERVAL_S = 30
DEFAULT_THRESHOLD = 3


@dataclass(frozen=True)
class HealthCheckSetting:
    logical_id: str
    type: str
    request_interval_s: float  # as written (AWS seconds: 10 or 30)
    failure_threshold: int


@dataclass(frozen=True)
class GroupSetting:
    logical_id: str
    health_check_type: str  # EC2 | ELB | ...
    grace_period_s: float


@dataclass(frozen=True)
class HealthTiming:
    """The slowest of a stack's health checks under a profile."""

    interval_s: float  # RequestInterval scaled like the profile scales AWS's 30 s
    failure_threshold: int
    black_hole_s: float  # t_f when the endpoint hangs (a terminated instance): the connect limit
    source: str  # which checks, for the prediction's phase

    def leave_s(self, failing_probe_s: float) -> float:
        """Worst case until the checkers call it unhealthy: F x (I + t_f)."""
        return self.failure_threshold * (self.interval_s + failing_probe_s)

    def recover_s(self) -> float:
        """Worst case until the checkers call it healthy again: F successes, one interval apart."""
        return self.failure_threshold * self.interval_s


def config_of(stack_id: str, stack: DeployedStack | None, template: Path | None = None) -> StackConfig:
    """The deployed template and parameters; without a stack (plan, dry run), `template` and its defaults."""
    return stack_config(stack_id, stack, template)


def _number(config: StackConfig, node: Any, default: float, where: str) -> float:
    value = config.resolve(node) if node is not None else default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{config.stack_id}: {where} is not a number: {value!r}") from None


def health_checks(config: StackConfig) -> list[HealthCheckSetting]:
    found = []
    for logical_id, props in config.resources(HEALTH_CHECK).items():
        check = props.get("HealthCheckConfig", {}) or {}
        found.append(HealthCheckSetting(
            logical_id, str(config.resolve(check.get("Type", "HTTP"))),
            _number(config, check.get("RequestInterval"), DEFAULT_INTERVAL_S, f"{logical_id}.RequestInterval"),
            int(_number(config, check.get("FailureThreshold"), DEFAULT_THRESHOLD, f"{logical_id}.FailureThreshold"))))
    return found


def record_ttls(config: StackConfig) -> dict[str, float]:
    """Logical id (`Group[i]` inside a RecordSetGroup) -> TTL, for every record that sets one (aliases do not)."""
    ttls: dict[str, float] = {}
    for logical_id, props in config.resources(RECORD_SET).items():
        if props.get("TTL") is not None:
            ttls[logical_id] = _number(config, props["TTL"], 0, f"{logical_id}.TTL")
    for logical_id, props in config.resources(RECORD_SET_GROUP).items():
        for index, record in enumerate(props.get("RecordSets", []) or []):
            if record.get("TTL") is not None:
                ttls[f"{logical_id}[{index}]"] = _number(config, record["TTL"], 0, f"{logical_id}[{index}].TTL")
    return ttls


def group_settings(config: StackConfig) -> list[GroupSetting]:
    return [GroupSetting(logical_id, str(config.resolve(props.get("HealthCheckType", "EC2"))),
                         _number(config, props.get("HealthCheckGracePeriod"), 0,
                                 f"{logical_id}.HealthCheckGracePeriod"))
            for logical_id, props in config.resources(AUTO_SCALING_GROUP).items()]


def health_timing(profile: Profile, config: StackConfig) -> HealthTiming:
    """The slowest probed health check (largest F x I): a record's leave waits for its own check, and a
    scenario that does not say which check dies must not promise the fastest one."""
    probed = [c for c in health_checks(config) if c.type not in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL")]
    if not probed:
        raise ConfigError(f"{config.stack_id}: the template has no {HEALTH_CHECK} that probes an endpoint")
    slowest = max(probed, key=lambda c: c.failure_threshold * c.request_interval_s)
    return HealthTiming(scaled(profile, "route53.health_check.interval", slowest.request_interval_s),
                        slowest.failure_threshold, profile.delay("route53.health_check.connect_timeout").mean,
                        f"template {slowest.logical_id} ({len(probed)} health checks)")


def status_to_dns(profile: Profile, *, ends_at: str = "") -> PredictedPhase:
    status = profile.delay("route53.status_to_dns")
    return PredictedPhase("status_to_dns", status.mean, status.low, status.high, "route53.status_to_dns", ends_at)


def leave_phases(profile: Profile, config: StackConfig, *, black_hole: bool = True) -> tuple[PredictedPhase, ...]:
    """Until a dead endpoint's record leaves the authoritative answers."""
    timing = health_timing(profile, config)
    t_f = timing.black_hole_s if black_hole else 0.0
    return (fixed("health_check", timing.leave_s(t_f),
                  f"F={timing.failure_threshold} x (I={timing.interval_s:g} s + t_f={t_f:g} s); {timing.source}",
                  ends_at="health_check"),
            status_to_dns(profile, ends_at="stable"))


def recover_phases(profile: Profile, config: StackConfig) -> tuple[PredictedPhase, ...]:
    """From a healthy endpoint again until its record is back in the answers."""
    timing = health_timing(profile, config)
    return (fixed("health_recover", timing.recover_s(),
                  f"F={timing.failure_threshold} successes x I={timing.interval_s:g} s; {timing.source}"),
            status_to_dns(profile))


def caching_ttl_s(profile: Profile, config: StackConfig) -> float:
    """The longest record TTL (what a caching resolver may add on top); the profile's when none is set."""
    ttls = record_ttls(config)
    return max(ttls.values()) if ttls else profile.delay("route53.record_ttl").mean
