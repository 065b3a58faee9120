"""spot-vpc-origin's deployments: each variant is an origin stack, then an edge stack bound to its first
instance; deployed side by side in one backend (or adopted part by part), probed, and deleted again.

Each variant gets its own origin stack, edge stack, private zone and VPC; they run side by side in one
backend, so one fault time compares them under the same conditions. A client of CloudFront sees the
instance (`ok`), the maintenance page (`fallback`) or an error; the record is watched at the VPC's own
DNS server (authoritative for the private zone).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from gameday import stacks
from gameday.backends.base import Backend
from gameday.diagnosis import Diagnoser, summarize
from gameday.dnsnames import resolve_name
from gameday.errors import BackendError, ConfigError, DeployError
from gameday.faults.resources import instance_ipv6
from gameday.kits.blocks.template_kit import overrides_for
from gameday.kits.kit import DeployContext, Deployment, PartSpec
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import DIAGNOSE_EVERY_S, FATAL_GRACE_S
from gameday.stacks import STACKS_DIR, DeployedStack, StackSpec
from localcloud.profiles import Profile
from localcloud.timescale import scaled

STACK = "spot-vpc-origin"
ORIGIN_TEMPLATE = STACKS_DIR / STACK / "template.yaml"
EDGE_TEMPLATE = STACKS_DIR / STACK / "edge.yaml"
# The variant whose record never moves: it names one network interface's fixed address, and each new instance
# attaches that interface. A deployment of its own, compared with the other three in the extended scenarios
# (its two more stacks would take the core game day past its three minutes).
ENI = "eni"
VARIANTS = ("user-data", "lifecycle-hook", "cloud-map", ENI)
# The lifecycle-hook variant with its terminating hook too (TerminationCleanup=true): a deployment of its
# own, for the scenarios about who leaves the group.
CLEANUP = "lifecycle-hook+cleanup"
DEPLOYMENTS: Mapping[str, tuple[str, ...]] = {"default": VARIANTS[:3], "eni": (ENI,), "cleanup": (CLEANUP,)}
SHORT = {"user-data": "ud", "lifecycle-hook": "lh", "cloud-map": "cm", ENI: "en", CLEANUP: "lc"}
MAINTENANCE_PAGE = b"<html><body>Down for maintenance.</body></html>\n"
# localcloud's edge names the origin in X-Served-By and the instance behind it in this header; through
# real CloudFront the instance's own X-Served-By reaches the client.
LOCAL_INSTANCE_HEADER = "X-Localcloud-Origin-Served-By"
CDN_RATE_HZ = 5.0  # three variants at once on a shared host: 200 ms resolution is plenty for ~30 s
DNS_RATE_HZ = 2.0
READY_TIMEOUT_S = 120.0

PARTS = tuple(part for variant in (*VARIANTS, CLEANUP) for part in (
    PartSpec(f"{variant}.origin", ORIGIN_TEMPLATE, f"{variant}: VPC, Spot group, private zone, the record's writer"),
    PartSpec(f"{variant}.edge", EDGE_TEMPLATE, f"{variant}: CloudFront with a VPC origin, S3 maintenance page")))


@dataclass(frozen=True)
class VariantStacks:
    variant: str
    origin: DeployedStack
    edge: DeployedStack
    edge_address: str  # where CloudFront answers (the distribution's domain name, resolved)
    vpc_dns: tuple[str, int]  # the VPC's DNS server: the private zone's answers as the VPC sees them
    instance_id: str  # the instance serving when the run began
    ipv6: str  # the address the record names for it (the eni variant: the interface's, for every instance)

    @property
    def origin_name(self) -> str:
        return self.origin.output("OriginName")

    @property
    def group(self) -> str:
        return self.origin.output("AutoScalingGroupName")

    @property
    def fixed_address(self) -> bool:
        """The record names one interface's address whichever instance serves (the eni variant)."""
        return self.variant == ENI

    @property
    def interface_id(self) -> str | None:
        return self.origin.output("OriginInterfaceId") if self.fixed_address else None

    @property
    def cdn_probe(self) -> str:
        return f"cdn:{self.variant}"

    @property
    def dns_probe(self) -> str:
        return f"dns:{self.variant}"


@dataclass(frozen=True)
class SpotDeployment(Deployment):
    """The variants deployed (or adopted) side by side; `parts` holds their stacks as `<variant>.origin/edge`."""

    variants: tuple[VariantStacks, ...]


def parts_of(variants: Iterable[VariantStacks]) -> dict[str, DeployedStack]:
    return {name: stack for v in variants for name, stack in ((f"{v.variant}.origin", v.origin),
                                                               (f"{v.variant}.edge", v.edge))}


def deploy(ctx: DeployContext, deployment: str) -> SpotDeployment:
    """`deployment`'s variants, deployed; or, when `--existing-stack` names parts, the variants of it whose
    origin and edge were both named (adopted: nothing deployed, nothing seeded)."""
    if deployment not in DEPLOYMENTS:
        raise ConfigError(f"{STACK} has no deployment {deployment!r} (has: {', '.join(DEPLOYMENTS)})")
    if ctx.adopting:
        variants = [adopt_variant(ctx, v) for v in named_variants(ctx.existing, deployment)]
    else:
        variants = deploy_variants(ctx.backend, ctx.run_id, ctx.profile, DEPLOYMENTS[deployment],
                                   parameters=ctx.parameters, run_tag=ctx.run_tag)
    return SpotDeployment(STACK, parts_of(variants), tuple(variants))


def named_variants(existing: Mapping[str, str], deployment: str) -> list[str]:
    """The variants of `deployment` whose two parts `--existing-stack` names; a half-named one is a mistake."""
    complete = []
    for variant in DEPLOYMENTS[deployment]:
        named = [role for role in ("origin", "edge") if f"{variant}.{role}" in existing]
        if len(named) == 1:
            missing = "edge" if named == ["origin"] else "origin"
            raise ConfigError(f"--existing-stack: {STACK}.{variant}.{named[0]} is named but not "
                              f"{STACK}.{variant}.{missing} (a variant is both stacks)")
        if named:
            complete.append(variant)
    if not complete:
        wanted = " ".join(f"--existing-stack {STACK}.{v}.origin=NAME --existing-stack {STACK}.{v}.edge=NAME"
                          for v in DEPLOYMENTS[deployment][:1])
        raise ConfigError(f"--existing-stack: no variant of {STACK}'s {deployment!r} deployment "
                          f"({', '.join(DEPLOYMENTS[deployment])}) is named, e.g. {wanted}")
    return complete


def adopt_variant(ctx: DeployContext, variant: str) -> VariantStacks:
    origin = stacks.adopt(ctx.backend, ctx.existing[f"{variant}.origin"],
                          StackSpec(STACK, {}, ORIGIN_TEMPLATE, part=f"{variant}.origin"))
    edge = stacks.adopt(ctx.backend, ctx.existing[f"{variant}.edge"],
                        StackSpec(STACK, {}, EDGE_TEMPLATE, part=f"{variant}.edge"))
    instance = wait_in_service(ctx.backend, origin.output("AutoScalingGroupName"), READY_TIMEOUT_S)
    return ready_variant(ctx.backend, variant, origin, edge, instance, READY_TIMEOUT_S)


def deploy_variants(backend: Backend, run_id: str, profile: Profile, variants: Sequence[str] = VARIANTS, *,
                    parameters: Mapping[str, str] | None = None, timeout_s: float = READY_TIMEOUT_S,
                    run_tag: str | None = None) -> list[VariantStacks]:
    """Every variant's origin stack, then (once each group has an instance) its edge; deleted again if
    any step fails, so a failed deploy leaves nothing behind. `parameters` override either template's."""
    overrides = parameters or {}
    origins: list[DeployedStack] = []
    edges: list[DeployedStack] = []
    try:
        for variant in variants:
            zone = f"{SHORT[variant]}-{run_id}.gameday.test".lower()
            origins.append(stacks.deploy(backend, StackSpec(STACK, {
                "Variant": variant.split("+")[0], "ZoneName": zone,
                "TerminationCleanup": "true" if variant == CLEANUP else "false",
                "RecordTtl": str(round(scaled(profile, "route53.record_ttl", 30))),
                "HookHeartbeatTimeout": "900", **overrides_for(ORIGIN_TEMPLATE, overrides)},
                ORIGIN_TEMPLATE, part="origin"), f"{run_id}-{SHORT[variant]}", run_tag=run_tag))
        instances = [wait_in_service(backend, o.output("AutoScalingGroupName"), timeout_s, o) for o in origins]
        account = backend.client("sts").get_caller_identity()["Account"]
        for variant, origin, instance in zip(variants, origins, instances, strict=True):
            arn = f"arn:aws:ec2:{backend.region}:{account}:instance/{instance}"
            edges.append(stacks.deploy(backend, StackSpec(STACK, {
                "OriginName": origin.output("OriginName"), "VpcOriginEndpointArn": arn,
                "ConnectionTimeout": str(max(1, round(scaled(profile, "cloudfront.connection_timeout", 10)))),
                "ErrorCachingMinTTL": str(round(scaled(profile, "cloudfront.error_caching_min_ttl", 10))),
                **overrides_for(EDGE_TEMPLATE, overrides)}, EDGE_TEMPLATE, part="edge"), f"{run_id}-{SHORT[variant]}",
                run_tag=run_tag))
            backend.client("s3").put_object(Bucket=edges[-1].output("MaintenanceBucketName"), Key="index.html",
                                            Body=MAINTENANCE_PAGE, ContentType="text/html")
        return [ready_variant(backend, variant, origin, edge, instance, timeout_s)
                for variant, origin, edge, instance in zip(variants, origins, edges, instances, strict=True)]
    except BaseException:
        for stack in reversed(edges):
            stacks.delete(backend, stack)
        for stack in reversed(origins):
            _forget_instances(backend, stack)
            stacks.delete(backend, stack)
        raise


def ready_variant(backend: Backend, variant: str, origin: DeployedStack, edge: DeployedStack, instance: str,
                  timeout_s: float) -> VariantStacks:
    """The variant once the record names its instance at the VPC's DNS server (its steady state)."""
    vpc_dns = vpc_resolver(backend, origin.output("VpcId"))
    ipv6 = named_address(backend, origin, instance, timeout_s)
    if not wait_aaaa(vpc_dns, origin.output("OriginName"), {ipv6}, timeout_s, Diagnoser(backend, [origin])):
        raise DeployError(f"{variant}: {origin.output('OriginName')} does not name {instance} ({ipv6}) "
                          f"at the VPC's DNS server (waited up to {timeout_s:.0f} s; it answers "
                          f"{sorted(aaaa_at(vpc_dns, origin.output('OriginName'))) or 'nothing'}): "
                          f"the record does not follow{_why(backend, origin, instance)}")
    return VariantStacks(variant, origin, edge, resolve_name(backend, edge.output("DistributionDomainName")),
                         vpc_dns, instance, ipv6)


def delete_variants(backend: Backend, variants: Iterable[VariantStacks]) -> None:
    """What the instances wrote (the record, Cloud Map registrations) goes first, as it would have to on AWS:
    CloudFormation cannot delete a zone that still holds records it did not create. Adopted stacks stay."""
    for variant in variants:
        if variant.origin.adopted or variant.edge.adopted:
            continue
        backend.client("s3").delete_object(Bucket=variant.edge.output("MaintenanceBucketName"), Key="index.html")
        stacks.delete(backend, variant.edge)
        _forget_instances(backend, variant.origin)
        stacks.delete(backend, variant.origin)


def _forget_instances(backend: Backend, origin: DeployedStack) -> None:
    if origin.output("Variant") == ENI:  # the record is the template's own; the instances wrote nothing
        return
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


def current(backend: Backend, variant: VariantStacks, timeout_s: float = READY_TIMEOUT_S) -> VariantStacks:
    """The variant with the instance serving now, once the record names it (the steady state)."""
    instance = wait_in_service(backend, variant.group, timeout_s)
    ipv6 = named_address(backend, variant.origin, instance, timeout_s)
    if not wait_aaaa(variant.vpc_dns, variant.origin_name, {ipv6}, timeout_s, Diagnoser(backend, [variant.origin])):
        raise DeployError(f"{variant.variant}: {variant.origin_name} does not name the serving instance "
                          f"{instance} ({ipv6}) after {timeout_s:.0f} s: no steady state"
                          f"{_why(backend, variant.origin, instance)}")
    return replace(variant, instance_id=instance, ipv6=ipv6)


def _why(backend: Backend, origin: DeployedStack, instance_id: str) -> str:
    """The causes ground truth names (the user data's error, a Lambda's, a lifecycle action nobody completed,
    the record the zone lacks), else the end of the instance's console."""
    causes = Diagnoser(backend, [origin]).explain([origin.output("OriginName")])
    return f"; cause: {summarize(causes)}" if causes else console_tail(backend, instance_id)


def console_tail(backend: Backend, instance_id: str, limit: int = 400) -> str:
    """The end of an instance's console (its user data's output) where the backend can show it (localcloud)."""
    if backend.control is None:
        return ""
    try:
        text = backend.control(f"/console/{instance_id}").decode("utf-8", "replace").strip()
    except (OSError, BackendError):
        return ""
    return f"; its console ends: {' | '.join(text[-limit:].splitlines())}" if text else "; its console is empty"


def _until_found(timeout_s: float, interval_s: float) -> Retrying:
    """Poll until the attempt returns something other than None; None when `timeout_s` passed."""
    return Retrying(retry=retry_if_result(lambda found: found is None), wait=wait_fixed(interval_s),
                    stop=stop_after_delay(timeout_s), retry_error_callback=lambda state: None)


def wait_in_service(backend: Backend, group: str, timeout_s: float, stack: DeployedStack | None = None) -> str:
    """The group's InService instance (the first by id when there are several)."""
    autoscaling = backend.client("autoscaling")

    def in_service() -> str | None:
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        ready = sorted(i["InstanceId"] for g in found for i in g["Instances"] if i["LifecycleState"] == "InService")
        return ready[0] if ready else None

    instance = _until_found(timeout_s, 0.5)(in_service)
    if instance is None:
        causes = Diagnoser(backend, [stack]).explain() if stack is not None else []
        raise DeployError(f"group {group} has no InService instance after {timeout_s:.0f} s"
                          + (f"; cause: {summarize(causes)}" if causes else ""))
    return str(instance)


def named_address(backend: Backend, origin: DeployedStack, instance_id: str, timeout_s: float) -> str:
    """The address the record must name while `instance_id` serves: its own IPv6 address, or (eni variant) the
    interface's fixed one, once the instance holds the interface."""
    if origin.output("Variant") != ENI:
        return ipv6_of(backend, instance_id)
    interface = origin.output("OriginInterfaceId")
    if not wait_attached(backend, interface, instance_id, timeout_s, Diagnoser(backend, [origin])):
        raise DeployError(f"{ENI}: interface {interface} is not attached to {instance_id} after {timeout_s:.0f} s "
                          f"(held by {holder_of(backend, interface) or 'nobody'}): the instance did not take it "
                          f"over{_why(backend, origin, instance_id)}")
    return origin.output("OriginAddress")


def holder_of(backend: Backend, interface_id: str) -> str | None:
    """The instance an interface is attached to (None: available)."""
    found = backend.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[interface_id])["NetworkInterfaces"]
    attachment = found[0].get("Attachment") if found else None
    return str(attachment["InstanceId"]) if attachment and attachment.get("InstanceId") else None


def wait_attached(backend: Backend, interface_id: str, instance_id: str, timeout_s: float,
                  diagnoser: Diagnoser | None = None) -> bool:
    """Until the interface is attached to `instance_id` (see `wait_until`)."""
    return wait_until(lambda: holder_of(backend, interface_id) == instance_id, timeout_s, diagnoser)


def wait_until(done: Callable[[], bool], timeout_s: float, diagnoser: Diagnoser | None = None) -> bool:
    """Poll `done` until true: False at the timeout, or sooner when ground truth says it cannot come (the
    `diagnoser`'s fatal causes held for FATAL_GRACE_S, e.g. a bootstrap that died)."""
    deadline = time.monotonic() + timeout_s
    next_diagnosis = time.monotonic() + DIAGNOSE_EVERY_S
    while not done():
        now = time.monotonic()
        if now >= deadline:
            return False
        if diagnoser is not None and now >= next_diagnosis:
            next_diagnosis = now + DIAGNOSE_EVERY_S
            if diagnoser.fatal_for(FATAL_GRACE_S, now):
                return False
        time.sleep(min(0.25, max(0.0, deadline - now)))
    return True


def ipv6_of(backend: Backend, instance_id: str) -> str:
    address = instance_ipv6(backend.client("ec2"), instance_id)
    if address is None:
        raise DeployError(f"{instance_id} has no IPv6 address: the launch template must ask for one")
    return address


def vpc_resolver(backend: Backend, vpc_id: str) -> tuple[str, int]:
    """The DNS server that answers a VPC's private zones: a resolver named after the VPC (or `vpc`) given with
    `--resolver`, else localcloud's listener for that VPC."""
    named = {r.name: r for r in backend.resolvers()}
    given = named.get(vpc_id) or named.get("vpc")
    if given is not None:
        return given.host, given.port
    if backend.control is None:
        raise DeployError(f"the private zone is answered only inside {vpc_id}: run gameday where the VPC's DNS "
                          f"server is reachable and name it with --resolver {vpc_id}=HOST[:PORT] (in the VPC: "
                          "169.254.169.253)")
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


def wait_aaaa(server: tuple[str, int], name: str, expected: set[str], timeout_s: float,
              diagnoser: Diagnoser | None = None) -> bool:
    """Until the name's AAAA answer is `expected` (see `wait_until`)."""
    return wait_until(lambda: aaaa_at(server, name) == expected, timeout_s, diagnoser)


def probes(variant: VariantStacks, backend: Backend, *, timeout_s: float) -> list[HttpProbe | DnsProbe]:
    """CloudFront as a client sees it (the instance, or `fallback` for the maintenance page) and the origin
    record as the VPC sees it."""
    return [HttpProbe(variant.cdn_probe, f"http://{variant.edge_address}/", rate_hz=CDN_RATE_HZ,
                      timeout_s=timeout_s, identity_header=f"{LOCAL_INSTANCE_HEADER}, X-Served-By",
                      expect_identity="i-"),
            DnsProbe(variant.dns_probe, variant.origin_name, "AAAA", server=variant.vpc_dns, rate_hz=DNS_RATE_HZ)]
