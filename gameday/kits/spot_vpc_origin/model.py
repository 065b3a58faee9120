"""spot-vpc-origin: T_B = (lead) + d_asg + t_api + [t_pend + t_boot + t_ud | t_hook] + U_R53 + O_CF
(docs/aws-timings.md §16.2, interrupted without capacity rebalancing), read from the deployed stack's variant
and record TTL.

The replacement starts only after the instance is gone (no capacity rebalancing: the notice gives no
head start). How the record follows the instance is the variant's own term:

- user-data / cloud-map: the new instance boots, then its user data UPSERTs the AAAA (or registers in
  Cloud Map, whose record change propagates like a Route 53 change);
- lifecycle-hook: the launch hook notifies SNS when the instance enters Pending:Wait, so the Lambda
  UPSERTs the record while the instance still boots: the record can name an instance that does not
  serve yet (CloudFront then keeps failing over to the maintenance page until it boots);
- eni: the record names one network interface's fixed address and never changes, so there is no DNS term
  at all: the new instance boots, its user data attaches the interface, and the address reaches it
  `eni.attach_to_traffic` later (docs/aws-timings.md §8.3) — T = (lead) + d_asg + t_api + t_pend + t_boot +
  t_attach. CloudFront's cached AAAA stays right throughout.

O_CF: CloudFront holds the origin's AAAA for its TTL (assumed to honour it, docs/aws-timings.md §9.8, §16.2), so
clients see the new instance up to one TTL after the authoritative switch (on average half).
The user data's and the Lambda's own run times are real on localcloud and measured beside the sum.
"""

from __future__ import annotations

from dataclasses import replace

from gameday.model import CONTROL, PredictedPhase, Prediction, phase
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile

STACK = "spot-vpc-origin"
ENI = "eni"
# A Cloud Map registration changes the record through Cloud Map's API (its own control plane, then Route 53's).
REGISTRATION_API = {"cloud-map": "servicediscovery:RegisterInstance"}


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
    if variant == ENI:
        return (*common,
                phase(profile, "pending", "ec2.pending_to_running"),
                phase(profile, "boot", "ec2.boot", ends_at="booted"),
                phase(profile, "attach", "eni.attach_to_traffic", ends_at="routed"))
    registration = "cloud map registration" if variant == "cloud-map" else "UPSERT"
    return (*common,
            phase(profile, "pending", "ec2.pending_to_running"),
            phase(profile, "boot", "ec2.boot", ends_at="booted"),
            PredictedPhase("record_change", *_delay(profile, "route53.change_insync"),
                           f"route53.change_insync ({registration})", ends_at="dns_first", plane=CONTROL,
                           api=REGISTRATION_API.get(variant, "route53:ChangeResourceRecordSets")))


def _delay(profile: Profile, key: str) -> tuple[float, float, float]:
    delay = profile.delay(key)
    return delay.mean, delay.low, delay.high


def _edge_cache(stack: DeployedStack | None) -> tuple[PredictedPhase, ...]:
    """CloudFront's cached AAAA, up to one TTL; none for a fixed address (the answer it caches stays right)."""
    if variant_of(stack) == ENI:
        return ()
    ttl = record_ttl(stack)
    return (PredictedPhase("edge_dns_cache", ttl / 2, 0.0, ttl, "template RecordTtl: CloudFront's cached AAAA",
                           ends_at="stable"),)


def _note(stack: DeployedStack | None, fault: str) -> str:
    variant = variant_of(stack)
    boot = {"lifecycle-hook": "the Lambda UPSERTs while the instance boots: whichever ends later (boot or record + "
                              "cache) ends the outage",
            ENI: "no DNS term: the booted instance attaches the interface whose fixed address the record names"
            }.get(variant, "the record follows the booted instance")
    return f"variant {variant}, {fault}; {boot}; excludes the user data's / Lambda's own run time (measured)"


def spot_interruption(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "spot-interruption", profile.name, (
        phase(profile, "notice_lead", "spot.itn_lead", ends_at="interrupted"),
        *_replacement(profile, stack),
        *_edge_cache(stack),
    ), note=_note(stack, "interruption notice, then termination (no capacity rebalancing)"))


def terminate_instance(profile: Profile, stack: DeployedStack | None) -> Prediction:
    return Prediction(STACK, "terminate-instance", profile.name, (*_replacement(profile, stack), *_edge_cache(stack)),
                      note=_note(stack, "plain termination"))


def capacity_error(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """No Spot capacity for the first-choice type: the group's launch in the zone it picked fails once
    (InsufficientInstanceCapacity) and, one retry later, launches the next type there."""
    retry = profile.delay("ec2.ice_retry")
    replacement = _replacement(profile, stack)
    return Prediction(STACK, "spot-capacity-error", profile.name, (
        replacement[0],
        PredictedPhase("capacity_retry", retry.mean, retry.low, retry.high,
                       "ec2.ice_retry (one InsufficientInstanceCapacity, then the next type)"),
        *replacement[1:], *_edge_cache(stack),
    ), note=_note(stack, "termination with no capacity for the first instance type"))


def _cleanup(stack: DeployedStack | None) -> bool:
    return stack_config(STACK, stack).parameter("TerminationCleanup") == "true"


def capacity_thrash(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """The outage CloudFront's clients see when the group runs a second instance and then lets the older one go
    as soon as the newcomer passes its EC2 health check (counted from that departure). The record names the
    newcomer once it writes: user data / Cloud Map after the boot; the hook's Lambda before the newcomer goes
    InService (it waits for INSYNC), so only CloudFront's cached answer is left."""
    # Counted from a departure the analysis has no phase for: only the total compares (no phase ends_at).
    edge = tuple(replace(p, ends_at="") for p in _edge_cache(stack))
    if variant_of(stack) == "lifecycle-hook":
        phases: tuple[PredictedPhase, ...] = edge
    elif variant_of(stack) == ENI:  # the newcomer takes the interface over once booted
        phases = (phase(profile, "newcomer_boot", "ec2.boot"),
                  phase(profile, "newcomer_attach", "eni.attach_to_traffic"))
    else:
        phases = (phase(profile, "newcomer_boot", "ec2.boot"),
                  phase(profile, "newcomer_record", "route53.change_insync"), *edge)
    return Prediction(STACK, "capacity-thrash", profile.name, phases,
                      note=f"variant {variant_of(stack)}: outage from the older instance's departure (termination "
                           "policy OldestInstance) until CloudFront's cached AAAA names the newcomer; excludes the "
                           "user data's own run time (measured)")


def terminate_in_group(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """The outage when the group itself terminates the instance and launches the replacement at once. Without a
    terminating hook the instance goes at once and the outage lasts until CloudFront names the replacement.
    With the cleanup hook the leaving instance serves until its Lambda is done: if the record still names it,
    the DELETE waits for INSYNC and the outage shrinks to CloudFront's cached answer (low); if the
    replacement's UPSERT came first, the hook changes nothing and the outage is the full one (high)."""
    full = (phase(profile, "launch", "ec2.run_instances_api"), phase(profile, "notify", "sns.lambda_delivery"),
            phase(profile, "record_change", "route53.change_insync"),
            *(replace(p, ends_at="") for p in _edge_cache(stack)))
    if not _cleanup(stack):
        return Prediction(STACK, "terminate-in-group", profile.name, full,
                          note="no terminating hook: the instance goes at once; the replacement's hook writes the "
                               "record while it boots")
    ttl = record_ttl(stack)
    whole = sum(p.high_s for p in full)
    return Prediction(STACK, "terminate-in-group", profile.name, (
        PredictedPhase("edge_dns_cache_or_race", ttl / 2, 0.0, whole,
                       "template RecordTtl if the cleanup's DELETE went first; the full replacement if the "
                       "replacement's UPSERT did"),
    ), note="terminating hook: the leaving instance serves until the record no longer names it (or names the "
            "replacement); a lookup between DELETE and UPSERT is cached negative at the edge (not in the range)")
