"""spot-vpc-origin: deploy a variant (the origin stack, then the edge bound to its first instance), probe it,
and read one variant out of a run that broke every variant at the same moment.

Each variant gets its own origin stack, edge stack, private zone and VPC; the three run side by side in one
backend, so one fault time compares them under the same conditions. A client of CloudFront sees the
instance (`ok`), the maintenance page (`fallback`) or an error; the record is watched at the VPC's own
DNS server (authoritative for the private zone).
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import dns.message
import dns.query
import dns.rdatatype

from gameday.analysis import FailoverResult, analyze
from gameday.backends.base import Backend
from gameday.backends.local import LocalBackend
from gameday.errors import BackendError, DeployError
from gameday.faults.resources import instance_ipv6
from gameday.origin_group_run import resolve_name
from gameday.probes import DnsProbe, HttpProbe
from gameday.stacks import STACKS_DIR, DeployedStack, StackSpec, delete, deploy
from gameday.timeline import Event, Outcome, Sample, Timeline
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "spot-vpc-origin"
EDGE_TEMPLATE = STACKS_DIR / STACK / "edge.yaml"
VARIANTS = ("user-data", "lifecycle-hook", "cloud-map")
# The lifecycle-hook variant with its terminating hook too (TerminationCleanup=true): a fourth deployment,
# for the scenarios about who leaves the group.
CLEANUP = "lifecycle-hook+cleanup"
SHORT = {"user-data": "ud", "lifecycle-hook": "lh", "cloud-map": "cm", CLEANUP: "lc"}
MAINTENANCE_PAGE = b"<html><body>Down for maintenance.</body></html>\n"
# localcloud's edge names the origin in X-Served-By and the instance behind it in this header; through
# real CloudFront the instance's own X-Served-By reaches the client.
LOCAL_INSTANCE_HEADER = "X-Localcloud-Origin-Served-By"
CDN_RATE_HZ = 5.0  # three variants at once on a shared host: 200 ms resolution is plenty for ~30 s
DNS_RATE_HZ = 2.0


@dataclass(frozen=True)
class VariantStacks:
    variant: str
    origin: DeployedStack
    edge: DeployedStack
    edge_address: str  # where CloudFront answers (the distribution's domain name, resolved)
    vpc_dns: tuple[str, int]  # the VPC's DNS server: the private zone's answers as the VPC sees them
    instance_id: str  # the instance serving when the run began
    ipv6: str

    @property
    def origin_name(self) -> str:
        return self.origin.output("OriginName")

    @property
    def group(self) -> str:
        return self.origin.output("AutoScalingGroupName")

    @property
    def cdn_probe(self) -> str:
        return f"cdn:{self.variant}"

    @property
    def dns_probe(self) -> str:
        return f"dns:{self.variant}"


def deploy_variants(backend: Backend, run_id: str, profile: Profile, variants: Sequence[str] = VARIANTS, *,
                    parameters: Mapping[str, str] | None = None, timeout_s: float = 120.0) -> list[VariantStacks]:
    """Every variant's origin stack, then (once each group has an instance) its edge; deleted again if
    any step fails, so a failed deploy leaves nothing behind."""
    origins: list[DeployedStack] = []
    edges: list[DeployedStack] = []
    try:
        for variant in variants:
            zone = f"{SHORT[variant]}-{run_id}.gameday.test".lower()
            origins.append(deploy(backend, StackSpec(STACK, {
                "Variant": variant.split("+")[0], "ZoneName": zone,
                "TerminationCleanup": "true" if variant == CLEANUP else "false",
                "RecordTtl": str(round(scaled(profile, "route53.record_ttl", 30))),
                "HookHeartbeatTimeout": "900", **(parameters or {})}), f"{run_id}-{SHORT[variant]}"))
        instances = [wait_in_service(backend, o.output("AutoScalingGroupName"), timeout_s) for o in origins]
        account = backend.client("sts").get_caller_identity()["Account"]
        for variant, origin, instance in zip(variants, origins, instances, strict=True):
            arn = f"arn:aws:ec2:{backend.region}:{account}:instance/{instance}"
            edges.append(deploy(backend, StackSpec(STACK, {
                "OriginName": origin.output("OriginName"), "VpcOriginEndpointArn": arn,
                "ConnectionTimeout": str(max(1, round(scaled(profile, "cloudfront.connection_timeout", 10)))),
                "ErrorCachingMinTTL": str(round(scaled(profile, "cloudfront.error_caching_min_ttl", 10))),
            }, EDGE_TEMPLATE), f"{run_id}-{SHORT[variant]}e"))
            backend.client("s3").put_object(Bucket=edges[-1].output("MaintenanceBucketName"), Key="index.html",
                                            Body=MAINTENANCE_PAGE, ContentType="text/html")
        stacks = []
        for variant, origin, edge, instance in zip(variants, origins, edges, instances, strict=True):
            vpc_dns = vpc_resolver(backend, origin.output("VpcId"))
            ipv6 = ipv6_of(backend, instance)
            if not wait_aaaa(vpc_dns, origin.output("OriginName"), {ipv6}, timeout_s):
                raise DeployError(f"{variant}: {origin.output('OriginName')} never named {instance} ({ipv6}) "
                                  f"at the VPC's DNS server within {timeout_s:.0f} s (it answers "
                                  f"{sorted(aaaa_at(vpc_dns, origin.output('OriginName'))) or 'nothing'}): "
                                  f"the record does not follow{console_tail(backend, instance)}")
            stacks.append(VariantStacks(variant, origin, edge,
                                        resolve_name(backend, edge.output("DistributionDomainName")), vpc_dns,
                                        instance, ipv6))
        return stacks
    except BaseException:
        for stack in reversed(edges):
            delete(backend, stack)
        for stack in reversed(origins):
            _forget_instances(backend, stack)
            delete(backend, stack)
        raise


def delete_variants(backend: Backend, stacks: Iterable[VariantStacks]) -> None:
    """What the instances wrote (the record, Cloud Map registrations) goes first, as it would have to on AWS:
    CloudFormation cannot delete a zone that still holds records it did not create."""
    for stack in stacks:
        backend.client("s3").delete_object(Bucket=stack.edge.output("MaintenanceBucketName"), Key="index.html")
        delete(backend, stack.edge)
        _forget_instances(backend, stack.origin)
        delete(backend, stack.origin)


def _forget_instances(backend: Backend, origin: DeployedStack) -> None:
    if origin.output("Variant") == "cloud-map":
        discovery = backend.client("servicediscovery")
        service = origin.resources["OriginService"][1]
        for instance in discovery.list_instances(ServiceId=service).get("Instances", []):
            discovery.deregister_instance(ServiceId=service, InstanceId=instance["Id"])
        return
    route53 = backend.client("route53")
    zone = origin.output("InternalZoneId")
    for record in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]:
        if record["Type"] not in ("SOA", "NS"):  # the template creates none: the instances or the Lambda did
            route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})


def current(backend: Backend, stack: VariantStacks, timeout_s: float = 120.0) -> VariantStacks:
    """The variant with the instance serving now, once the record names it (the steady state)."""
    instance = wait_in_service(backend, stack.group, timeout_s)
    ipv6 = ipv6_of(backend, instance)
    if not wait_aaaa(stack.vpc_dns, stack.origin_name, {ipv6}, timeout_s):
        raise DeployError(f"{stack.variant}: {stack.origin_name} does not name the serving instance {instance} "
                          f"({ipv6}) after {timeout_s:.0f} s: no steady state")
    return replace(stack, instance_id=instance, ipv6=ipv6)


def console_tail(backend: Backend, instance_id: str, limit: int = 400) -> str:
    """The end of an instance's console (its user data's output) on localcloud, for an error message."""
    if not isinstance(backend, LocalBackend):
        return ""
    try:
        text = backend.control(f"/console/{instance_id}").decode("utf-8", "replace").strip()
    except (OSError, BackendError):
        return ""
    return f"; its console ends: {' | '.join(text[-limit:].splitlines())}" if text else "; its console is empty"


def wait_in_service(backend: Backend, group: str, timeout_s: float, *, exclude: Iterable[str] = ()) -> str:
    """The group's InService instance (not one of `exclude`)."""
    skip = set(exclude)
    autoscaling = backend.client("autoscaling")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        ready = sorted(i["InstanceId"] for g in found for i in g["Instances"]
                       if i["LifecycleState"] == "InService" and i["InstanceId"] not in skip)
        if ready:
            return ready[0]
        time.sleep(0.5)
    raise DeployError(f"group {group} has no InService instance after {timeout_s:.0f} s")


def ipv6_of(backend: Backend, instance_id: str) -> str:
    address = instance_ipv6(backend.client("ec2"), instance_id)
    if address is None:
        raise DeployError(f"{instance_id} has no IPv6 address: the launch template must ask for one")
    return address


def vpc_resolver(backend: Backend, vpc_id: str) -> tuple[str, int]:
    """The DNS server that answers a VPC's private zones (localcloud: the authoritative server's listener
    for that VPC)."""
    if not isinstance(backend, LocalBackend):
        raise DeployError("the VPC's resolver is only reachable from inside the VPC: on AWS run the probes "
                          "from an instance there (not supported by this runner yet)")
    info = json.loads(backend.control("/info"))
    for server in info.get("dns", {}).values():
        listener = server.get("vpc_listeners", {}).get(vpc_id)
        if listener:
            return str(listener["host"]), int(listener["port"])
    raise DeployError(f"no DNS server answers for {vpc_id} (no private zone or namespace in it?)")


def aaaa_at(server: tuple[str, int], name: str) -> set[str]:
    try:
        reply = dns.query.udp(dns.message.make_query(name, dns.rdatatype.AAAA), server[0], port=server[1],
                              timeout=1.0)
    except (dns.exception.Timeout, OSError):
        return set()
    return {str(r.address) for rrset in reply.answer if rrset.rdtype == dns.rdatatype.AAAA for r in rrset}


def wait_aaaa(server: tuple[str, int], name: str, expected: set[str], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if aaaa_at(server, name) == expected:
            return True
        time.sleep(0.25)
    return False


def probes(stack: VariantStacks, backend: Backend, *, timeout_s: float) -> list[HttpProbe | DnsProbe]:
    """CloudFront as a client sees it (the instance, or `fallback` for the maintenance page) and the origin
    record as the VPC sees it."""
    header = LOCAL_INSTANCE_HEADER if backend.name == "localcloud" else "X-Served-By"
    return [HttpProbe(stack.cdn_probe, f"http://{stack.edge_address}/", rate_hz=CDN_RATE_HZ, timeout_s=timeout_s,
                      identity_header=header, expect_identity="i-"),
            DnsProbe(stack.dns_probe, stack.origin_name, "AAAA", server=stack.vpc_dns, rate_hz=DNS_RATE_HZ)]


# --- one variant out of a shared run ---

def identifiers(stack: VariantStacks) -> set[str]:
    """What this variant's ground-truth events may name."""
    ids = {stack.group, stack.instance_id, stack.origin.output("VpcId"), stack.origin.output("InternalZoneId"),
           stack.edge.output("DistributionId"), stack.edge.output("VpcOriginId"), stack.origin_name,
           stack.origin_name + "."}
    ids |= {physical for _, physical in stack.origin.resources.values()}
    ids |= {physical for _, physical in stack.edge.resources.values()}
    return {i for i in ids if i}


def _mentions(event: Event, ids: set[str]) -> bool:
    if event.subject in ids:
        return True
    for value in event.detail.values():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and v in ids for v in values):
            return True
    return False


def events_of(stack: VariantStacks, events: Sequence[Event]) -> list[Event]:
    """This variant's events: those naming its resources, and the instances its group launched."""
    ids = identifiers(stack)
    for event in events:  # instances launched by the group during the run
        if event.detail.get("asg") == stack.group:
            ids |= {v for v in (event.subject, event.detail.get("instance")) if isinstance(v, str) and v}
    return [e for e in events if e.kind != "fault.inject" and _mentions(e, ids)]


def variant_timeline(run: Timeline, stack: VariantStacks, fault_at: float, fault_target: str) -> Timeline:
    samples, events = run.snapshot()
    view = Timeline(run.run_id, run.origin_at, run.origin_mono,
                    labels={**run.labels, "variant": stack.variant})
    view.add_samples(s for s in samples if s.probe in (stack.cdn_probe, stack.dns_probe))
    view.add_events(events_of(stack, events))
    view.add_event(Event(fault_at, "fault.inject", "gameday", fault_target, {"variant": stack.variant}))
    return view


@dataclass(frozen=True)
class VariantReading:
    """What one variant's clients went through (seconds since the fault unless named otherwise)."""

    variant: str
    aaaa_switch_s: float | None  # the VPC's DNS server names the new instance
    edge_switch_s: float | None  # CloudFront's own cached answer moved to it
    outage_start_s: float | None  # first CloudFront answer not from an instance
    served_again_s: float | None  # stable on an instance again (the failover time)
    outage_s: float | None  # served_again - outage_start
    fallback_samples: int  # maintenance pages served
    error_samples: int  # errors served (from the origin or from CloudFront's error cache)
    instances: tuple[str, ...]  # instances that served through CloudFront, in order

    def to_detail(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def read_variant(view: Timeline, stack: VariantStacks, fault_at: float, failover: FailoverResult) -> VariantReading:
    cdn = [s for s in view.samples_of(stack.cdn_probe) if s.sent_at >= fault_at]
    bad = [s for s in cdn if not s.good]
    first_bad = bad[0].sent_at - fault_at if bad else None
    stable = failover.phase("stable")
    served_again = stable.since_fault_s if stable is not None else None
    return VariantReading(
        variant=stack.variant,
        aaaa_switch_s=_first_answer_without(view.samples_of(stack.dns_probe), stack.ipv6, fault_at),
        edge_switch_s=_edge_switch(view, stack, fault_at),
        outage_start_s=first_bad,
        served_again_s=served_again,
        outage_s=(served_again - first_bad) if served_again is not None and first_bad is not None else None,
        fallback_samples=sum(1 for s in bad if s.outcome is Outcome.FALLBACK),
        error_samples=sum(1 for s in bad if s.outcome is not Outcome.FALLBACK),
        instances=tuple(dict.fromkeys(s.served_by for s in view.samples_of(stack.cdn_probe)
                                      if s.good and s.served_by)),
    )


def _first_answer_without(samples: Sequence[Sample], old: str, fault_at: float) -> float | None:
    """When the record first named an address other than the old one (and something at all)."""
    for sample in samples:
        if sample.sent_at >= fault_at and sample.answers and not _names(sample.answers, old):
            return sample.sent_at - fault_at
    return None


def _names(answers: Iterable[str], address: str) -> bool:
    wanted = ipaddress.ip_address(address)
    for answer in answers:
        try:
            if ipaddress.ip_address(answer.split()[-1]) == wanted:
                return True
        except ValueError:
            continue
    return False


def _edge_switch(view: Timeline, stack: VariantStacks, fault_at: float) -> float | None:
    for event in view.events_of("localcloud.cloudfront.origin_dns"):
        addresses = event.detail.get("addresses") or []
        if event.at >= fault_at and addresses and not _names(addresses, stack.ipv6):
            return event.at - fault_at
    return None


def analyze_variant(view: Timeline, stack: VariantStacks, fault_at: float, stable_window_s: float) -> FailoverResult:
    return analyze(view, fault_at=fault_at, probe=stack.cdn_probe, stable_window_s=stable_window_s)


# --- who the record names over time (two instances alive, cleanup on termination) ---

_ANSWERED = (Outcome.OK, Outcome.DNS_NXDOMAIN, Outcome.DNS_NODATA)  # what the server said, not a lost query
STABLE_TAIL_S = 2.0  # CloudFront's answers over the last seconds of the watch decide who serves at the end


@dataclass(frozen=True)
class RecordSpan:
    """From `start_s` to `end_s` (seconds since the fault) the VPC's DNS server named `names` (instance ids,
    or the address when no instance is known by it; empty: no record); `stale_s` of it named an instance
    that was already gone."""

    start_s: float
    end_s: float
    names: tuple[str, ...]
    stale_s: float

    def to_detail(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "names": list(self.names),
                "stale_s": round(self.stale_s, 3)}


def gone_times(view: Timeline, steps: Iterable[tuple[float, str]] = ()) -> dict[str, float]:
    """When each instance stopped existing: localcloud's ground truth, else when the group lost it."""
    gone: dict[str, float] = {}
    for event in view.events_of("localcloud.instance.terminated"):
        gone.setdefault(event.subject, event.at)
    for at, instance in steps:
        gone.setdefault(instance, at)
    return gone


def record_spans(view: Timeline, stack: VariantStacks, fault_at: float, addresses: Mapping[str, str],
                 gone: Mapping[str, float]) -> list[RecordSpan]:
    """The DNS probe's answers as spans of the instances they named (`addresses`: instance -> IPv6)."""
    by_address = {ipaddress.ip_address(a): i for i, a in addresses.items()}
    spans: list[RecordSpan] = []
    current: tuple[str, ...] | None = None
    start = 0.0
    samples = [s for s in view.samples_of(stack.dns_probe)
               if s.sent_at >= fault_at and s.outcome in _ANSWERED]

    def close(end: float) -> None:
        if current is None:
            return
        stale = sum(max(0.0, end - max(start, gone[n] - fault_at)) for n in current if n in gone)
        spans.append(RecordSpan(start, end, current, min(stale, end - start)))

    for sample in samples:
        names = tuple(sorted(_instance_of(a, by_address) for a in sample.answers))
        if names != current:
            close(sample.sent_at - fault_at)
            current, start = names, sample.sent_at - fault_at
    if samples:
        close(samples[-1].sent_at - fault_at)
    return spans


def _instance_of(answer: str, by_address: Mapping[Any, str]) -> str:
    value = answer.split()[-1]
    try:
        return by_address.get(ipaddress.ip_address(value), value)
    except ValueError:
        return value


@dataclass(frozen=True)
class ThrashReading:
    """Two instances alive at once, then one left: who the record named, and what CloudFront's clients saw."""

    variant: str
    newcomer: str | None
    left: tuple[str, ...]
    survivor: str | None
    named_newcomer_s: float | None  # the VPC's DNS server first named the newcomer
    lww_start_s: float | None  # last-writer-wins window: the record names one of two live instances...
    lww_end_s: float | None  # ...until only one is alive
    stale_s: float  # the record named an instance that was gone
    final_names: tuple[str, ...]
    outage_s: float  # CloudFront's clients saw no instance (every outage window)
    outage_windows: int
    fallback_samples: int
    error_samples: int
    served_by_survivor: bool  # CloudFront's last answers came from the survivor
    spans: tuple[RecordSpan, ...]

    def to_detail(self) -> dict[str, Any]:
        detail = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "spans"}
        return {**detail, "record_spans": [s.to_detail() for s in self.spans]}


def read_thrash(view: Timeline, stack: VariantStacks, fault_at: float, failover: FailoverResult,
                newcomer: str | None, left: Sequence[tuple[float, str]], addresses: Mapping[str, str]) -> ThrashReading:
    gone = gone_times(view, left)
    spans = record_spans(view, stack, fault_at, addresses, gone)
    members = {stack.instance_id, *([newcomer] if newcomer else [])}
    departed = tuple(i for _, i in sorted(left))
    survivors = sorted(members - set(departed))
    survivor = survivors[0] if len(survivors) == 1 else None
    named = next((s.start_s for s in spans if newcomer in s.names), None)
    lww_end = min((gone[i] - fault_at for i in members if i in gone), default=None)  # one of the two went
    lww_start = named if named is not None and (lww_end is None or named < lww_end) else None
    cdn = [s for s in view.samples_of(stack.cdn_probe) if s.sent_at >= fault_at]
    bad = [s for s in cdn if not s.good]
    tail = [s for s in cdn if s.sent_at >= (cdn[-1].sent_at - STABLE_TAIL_S)] if cdn else []
    return ThrashReading(
        variant=stack.variant, newcomer=newcomer, left=departed, survivor=survivor, named_newcomer_s=named,
        lww_start_s=lww_start, lww_end_s=lww_end if lww_start is not None else None,
        stale_s=sum(s.stale_s for s in spans), final_names=spans[-1].names if spans else (),
        outage_s=sum(w.duration_s for w in failover.outage_windows), outage_windows=len(failover.outage_windows),
        fallback_samples=sum(1 for s in bad if s.outcome is Outcome.FALLBACK),
        error_samples=sum(1 for s in bad if s.outcome is not Outcome.FALLBACK),
        served_by_survivor=bool(tail) and survivor is not None and all(s.good and s.served_by == survivor
                                                                        for s in tail),
        spans=tuple(spans))


def negative_answers(view: Timeline, fault_at: float) -> list[Event]:
    """CloudFront's own lookups of the origin name that found no address (and were cached, if ttl_s > 0)."""
    return [e for e in view.events_of("localcloud.cloudfront.origin_dns")
            if e.at >= fault_at and not e.detail.get("addresses")]
