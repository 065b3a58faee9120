"""origin-group: the per-request penalty of failing over (docs/aws-timings.md §15 B9, §16.4).

There is no detection phase: every cache miss asks the primary first. A primary that answers with a
failover code costs one round trip; an unreachable one costs ConnectionAttempts x ConnectionTimeout
(read from the deployed distribution's primary origin, scaled like the profile scales AWS's seconds).
"""

from __future__ import annotations

from gameday.model import Prediction, fixed, register, stack_config
from gameday.stacks import DeployedStack
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "origin-group"
PRIMARY_ORIGIN = ("Distribution", "DistributionConfig", "Origins", 0)


def connection_budget(profile: Profile, stack: DeployedStack | None) -> tuple[int, float]:
    """(attempts, seconds per attempt) of the primary origin under `profile`."""
    config = stack_config(STACK, stack)
    attempts = int(config.number(*PRIMARY_ORIGIN, "ConnectionAttempts",
                                 default=profile.count("cloudfront.connection_attempts")))
    timeout = config.value(*PRIMARY_ORIGIN, "ConnectionTimeout")
    return attempts, scaled(profile, "cloudfront.connection_timeout", None if timeout is None else float(timeout))


@register(STACK, "region-unreachable")
def region_unreachable(profile: Profile, stack: DeployedStack | None) -> Prediction:
    attempts, timeout = connection_budget(profile, stack)
    return Prediction(STACK, "region-unreachable", profile.name, (
        fixed("penalty", attempts * timeout, "Origins[primary].ConnectionAttempts x ConnectionTimeout"),),
        note=f"per cache-miss request: {attempts} attempts x {timeout:g} s connection timeout, then the replica")


def _one_round_trip(fault: str, why: str) -> None:
    @register(STACK, fault)
    def predict(profile: Profile, stack: DeployedStack | None) -> Prediction:
        return Prediction(STACK, fault, profile.name, (fixed("penalty", 0.0, why),),
                          note="per cache-miss request: one extra round trip to the primary (not modelled: ~0)")


_one_round_trip("deny-bucket-policy", "primary answers 403 (failover code)")
_one_round_trip("objects-missing", "primary answers 403/404 (failover code)")
