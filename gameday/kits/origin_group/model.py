"""origin-group: the per-request penalty of failing over (docs/aws-timings.md §15 B9, §16.4).

There is no detection phase: every cache miss asks the primary first. A primary that answers with a
failover code costs one round trip; an unreachable one costs ConnectionAttempts x ConnectionTimeout
(read from the deployed distribution's primary origin, scaled like the profile scales AWS's seconds).
"""

from __future__ import annotations

from gameday.kits.kit import Deployment, PreflightCheck
from gameday.model import Prediction, fixed
from gameday.preflight import Check, PreflightContext, codes_include
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "origin-group"
PRIMARY_ORIGIN = ("Distribution", "DistributionConfig", "Origins", 0)
ROUND_TRIP_NOTE = "per cache-miss request: one extra round trip to the primary (not modelled: ~0)"


def connection_budget(profile: Profile, stack: DeployedStack | None) -> tuple[int, float]:
    """(attempts, seconds per attempt) of the primary origin under `profile`."""
    config = stack_config(STACK, stack)
    attempts = int(config.number(*PRIMARY_ORIGIN, "ConnectionAttempts",
                                 default=profile.count("cloudfront.connection_attempts")))
    timeout = config.value(*PRIMARY_ORIGIN, "ConnectionTimeout")
    return attempts, scaled(profile, "cloudfront.connection_timeout", None if timeout is None else float(timeout))


def region_unreachable(profile: Profile, stack: DeployedStack | None) -> Prediction:
    attempts, timeout = connection_budget(profile, stack)
    return Prediction(STACK, "region-unreachable", profile.name, (
        fixed("penalty", attempts * timeout, "Origins[primary].ConnectionAttempts x ConnectionTimeout"),),
        note=f"per cache-miss request: {attempts} attempts x {timeout:g} s connection timeout, then the replica")


def deny_bucket_policy(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "deny-bucket-policy", profile.name, (
        fixed("penalty", 0.0, "primary answers 403 (failover code)"),), note=ROUND_TRIP_NOTE)


def objects_missing(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "objects-missing", profile.name, (
        fixed("penalty", 0.0, "primary answers 403/404 (failover code)"),), note=ROUND_TRIP_NOTE)


# The codes the model counts as one round trip for each fault: what the primary answers (S3 says 403 for a
# missing key when the reader lacks ListBucket). Missing from the origin group, the fault is an outage.
FAILOVER_CODES_NEEDED: dict[str, tuple[int, ...]] = {"deny-bucket-policy": (403,), "objects-missing": (403,)}


def failover_codes_check(fault: str) -> tuple[PreflightCheck, ...]:
    """The pre-flight of a scenario whose fault makes the primary answer a status code."""
    needed = FAILOVER_CODES_NEEDED.get(fault)
    if not needed:
        return ()

    def check(ctx: PreflightContext, deployment: Deployment) -> list[Check]:
        return codes_include(ctx.backend, deployment.main, needed,
                             f"the primary answers under {fault}: CloudFront would return it instead of failing over")

    return (check,)
