"""dns-failover-fargate: time until clients get the fallback page, and failback
(docs/aws-timings.md §16.5, §15 B1-B4).

Scale to zero: the scheduler reacts (`ecs.scheduler_reaction`), the targets deregister at once and the ALB
answers 503; the HTTPS health check fails FailureThreshold x RequestInterval later (the 503 is a fast
failure); the verdict reaches DNS answers `route53.status_to_dns` later; a caching resolver then serves
the old answer for what is left of the alias TTL (0 .. TTL, so TTL/2 on average). With
EvaluateTargetHealth the ALB's own health (`alb.health_to_route53`) may win the race.
Failback mirrors it: the health check needs FailureThreshold passing checks (R_R53 = F x I).
"""

from __future__ import annotations

from gameday.model import DATA, PredictedPhase, Prediction, phase
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "dns-failover-fargate"


def health_check(profile: Profile, stack: DeployedStack | None) -> tuple[float, int, bool]:
    """(interval s under the profile, failure threshold, evaluate-target-health) of the deployed stack."""
    config = stack_config(STACK, stack)
    interval = config.number("PrimaryHealthCheck", "HealthCheckConfig", "RequestInterval", default=30)
    threshold = int(config.number("PrimaryHealthCheck", "HealthCheckConfig", "FailureThreshold", default=3))
    evaluate = str(config.value("PrimaryRecord", "AliasTarget", "EvaluateTargetHealth", default="false")).lower()
    return scaled(profile, "route53.health_check.interval", interval), threshold, evaluate == "true"


def alias_ttl(profile: Profile) -> float:
    return round(scaled(profile, "route53.record_ttl", 60.0))  # alias answers carry the target's 60 s


def _detection(profile: Profile, stack: DeployedStack | None) -> PredictedPhase:
    interval, threshold, evaluate = health_check(profile, stack)
    seconds = threshold * interval
    if evaluate:
        seconds = min(seconds, profile.delay("alb.health_to_route53").mean)
    source = "HealthCheckConfig FailureThreshold x RequestInterval" + (" or alb.health_to_route53" if evaluate else "")
    return PredictedPhase("health_check", seconds, seconds, seconds, source)


def _cache(profile: Profile) -> PredictedPhase:
    ttl = alias_ttl(profile)
    # Ends inside `stable` for a caching-resolver client (dns_all is not reached when the tail fails back).
    return PredictedPhase("resolver_cache", ttl / 2, 0.0, ttl, "alias TTL (60 s x profile) left in the resolver")


def scale_to_zero(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "scale-ecs-service", profile.name, (
        # ECS stopping the tasks is the fault reaching the service, not a step the failover waits on: the
        # failover itself (health check, failover answer) is Route 53's data plane.
        phase(profile, "scheduler", "ecs.scheduler_reaction", plane=DATA),
        _detection(profile, stack),
        phase(profile, "dns_answer", "route53.status_to_dns", ends_at="dns_first"),
        _cache(profile),
    ), note="authoritative clients: scheduler + detection + dns_answer; caching-resolver clients add up to the TTL")


def failback(profile: Profile, stack: DeployedStack | None) -> Prediction:
    interval, threshold, _ = health_check(profile, stack)
    seconds = threshold * interval
    return Prediction(STACK, "failback", profile.name, (
        phase(profile, "scheduler", "ecs.scheduler_reaction"),
        PredictedPhase("recovery", seconds, seconds, seconds, "FailureThreshold passing checks x RequestInterval"),
        phase(profile, "dns_answer", "route53.status_to_dns"),
        _cache(profile),
    ), note="the ALB fails open to a new task at once, so the health check passes from the first check")


def authoritative_prediction(prediction: Prediction) -> float:
    """The prediction for a client that asks the authoritative server itself (no resolver cache)."""
    return sum(p.mean_s for p in prediction.phases if p.name != "resolver_cache")
