"""spot-vpc-origin: T_B = (lead) + d_asg + t_api + [t_pend + t_boot + t_ud | t_hook] + U_R53 + O_CF
(aws-timings §12.2 B, interrupted without capacity rebalancing), read from the deployed stack's variant
and record TTL.

The replacement starts only after the instance is gone (no capacity rebalancing: the notice gives no
head start). How the record follows the instance is the variant's own term:

- user-data / cloud-map: the new instance boots, then its user data UPSERTs the AAAA (or registers in
  Cloud Map, whose record change propagates like a Route 53 change);
- lifecycle-hook: the launch hook notifies SNS when the instance enters Pending:Wait, so the Lambda
  UPSERTs the record while the instance still boots: the record can name an instance that does not
  serve yet (CloudFront then keeps failing over to the maintenance page until it boots).

O_CF: CloudFront holds the origin's AAAA for its TTL (assumed to honour it, aws-timings §12.2 B), so
clients see the new instance up to one TTL after the authoritative switch (on average half).
The user data's and the Lambda's own run times are real on localcloud and measured beside the sum.
"""

from __future__ import annotations

from gameday.model import PredictedPhase, Prediction, phase, register, stack_config
from gameday.stacks import DeployedStack
from localcloud.profiles import Profile

STACK = "spot-vpc-origin"
VARIANTS = ("user-data", "lifecycle-hook", "cloud-map")


def variant_of(stack: DeployedStack | None) -> str:
    return stack_config(STACK, stack).parameter("Variant")


def record_ttl(stack: DeployedStack | None) -> float:
    """The origin record's TTL as deployed (the scenario passes it already in the profile's seconds)."""
    return float(stack_config(STACK, stack).parameter("RecordTtl"))


def _replacement(profile: Profile, stack: DeployedStack | None) -> tuple[PredictedPhase, ...]:
    """From the instance gone to the record switched at the authoritative server."""
    variant = variant_of(stack)
    common = (phase(profile, "detection", "asg.detect_not_running", ends_at="detection"),
              phase(profile, "launch", "ec2.run_instances_api", ends_at="control_plane"))
    if variant == "lifecycle-hook":
        return (*common,
                phase(profile, "notify", "sns.lambda_delivery"),
                phase(profile, "record_change", "route53.change_insync", ends_at="dns_first"))
    registration = "cloud map registration" if variant == "cloud-map" else "UPSERT"
    return (*common,
            phase(profile, "pending", "ec2.pending_to_running"),
            phase(profile, "boot", "ec2.boot", ends_at="booted"),
            PredictedPhase("record_change", *_delay(profile, "route53.change_insync"),
                           f"route53.change_insync ({registration})", ends_at="dns_first"))


def _delay(profile: Profile, key: str) -> tuple[float, float, float]:
    delay = profile.delay(key)
    return delay.mean, delay.low, delay.high


def _edge_cache(stack: DeployedStack | None) -> PredictedPhase:
    ttl = record_ttl(stack)
    return PredictedPhase("edge_dns_cache", ttl / 2, 0.0, ttl, "template RecordTtl: CloudFront's cached AAAA",
                          ends_at="stable")


def _note(stack: DeployedStack | None, fault: str) -> str:
    variant = variant_of(stack)
    boot = ("the Lambda UPSERTs while the instance boots: whichever ends later (boot or record + cache) "
            "ends the outage" if variant == "lifecycle-hook" else "the record follows the booted instance")
    return f"variant {variant}, {fault}; {boot}; excludes the user data's / Lambda's own run time (measured)"


@register(STACK, "spot-interruption")
def spot_interruption(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "spot-interruption", profile.name, (
        phase(profile, "notice_lead", "spot.itn_lead", ends_at="interrupted"),
        *_replacement(profile, stack),
        _edge_cache(stack),
    ), note=_note(stack, "interruption notice, then termination (no capacity rebalancing)"))


@register(STACK, "terminate-instance")
def terminate_instance(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "terminate-instance", profile.name, (*_replacement(profile, stack), _edge_cache(stack)),
                      note=_note(stack, "plain termination"))


@register(STACK, "spot-capacity-error")
def capacity_error(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """No Spot capacity for the first-choice type: the group's launch in the zone it picked fails once
    (InsufficientInstanceCapacity) and, one retry later, launches the next type there."""
    retry = profile.delay("ec2.ice_retry")
    replacement = _replacement(profile, stack)
    return Prediction(STACK, "spot-capacity-error", profile.name, (
        replacement[0],
        PredictedPhase("capacity_retry", retry.mean, retry.low, retry.high,
                       "ec2.ice_retry (one InsufficientInstanceCapacity, then the next type)"),
        *replacement[1:], _edge_cache(stack),
    ), note=_note(stack, "termination with no capacity for the first instance type"))
