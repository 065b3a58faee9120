"""A stack's own timing settings under a time profile: AWS seconds written in a template, scaled like the
profile scales AWS's defaults (the fast profile's 2 s connection timeout is AWS's 10 s x 0.2, so a
template's 5 s becomes 1 s). Pure: gameday's prediction model uses the same arithmetic."""

from __future__ import annotations

from localcloud.profiles import Profile

# AWS's documented defaults for the profile keys a template can override (docs/aws-timings.md §2, §3, §5, §9, §10).
AWS_DEFAULTS: dict[str, float] = {
    "cloudfront.connection_timeout": 10.0,
    "cloudfront.response_timeout": 30.0,
    "cloudfront.error_caching_min_ttl": 10.0,
    "alb.hc_interval": 30.0,
    "alb.hc_timeout": 5.0,
    "alb.deregistration_delay": 300.0,
    "ecs.stop_timeout": 30.0,
    "route53.health_check.interval": 30.0,
    "route53.record_ttl": 60.0,
    "asg.lifecycle_hook_timeout": 3600.0,
}


def factor(profile: Profile, key: str) -> float:
    """How the profile scales the AWS default of `key` (1.0 for realistic, 0.2 for fast)."""
    return profile.delay(key).mean / AWS_DEFAULTS[key]


def scaled(profile: Profile, key: str, aws_seconds: float | None) -> float:
    """`aws_seconds` from a template under this profile; None: the profile's own value for `key`."""
    if aws_seconds is None:
        return profile.delay(key).mean
    return aws_seconds * factor(profile, key)
