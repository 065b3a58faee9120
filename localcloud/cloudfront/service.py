"""The CloudFront service of a LocalCloud: the sink of the AWS::CloudFront::Distribution resource type.

Creating a distribution starts its edge (port 80 on a new loopback address) and publishes its domain
name `d<id>.cloudfront.net` in the cloud's alias table, so Route 53 aliases and clients resolve it.
Creating a VPC origin records the VPC of its endpoint (the instance's or load balancer's, else the
default VPC) and opens that VPC's listener on the authoritative DNS server, the only one that answers
the VPC's private zones; each edge resolves its VPC origins there (origin_dns.py).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.cfn.cloudfront import Distribution, OriginAccessControl, VpcOrigin
from localcloud.cloudfront.config import Origin, parse
from localcloud.cloudfront.edge import Edge, s3_region
from localcloud.cloudfront.origin_dns import OriginAnswer, OriginDns, Server
from localcloud.net.async_http import AsyncHttpServer, UpstreamError
from localcloud.patching import Patches
from localcloud.timescale import scaled

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.route53.dns import AuthoritativeDNS
    from localcloud.s3.dataplane import S3DataPlane

log = logging.getLogger(__name__)

EDGE_PORT = 80
DNS_PORT = 53
DNS_TIMEOUT_FLOOR_S = 1.0  # a scaled-down connection timeout must not turn a busy loopback DNS into a failure
DISTRIBUTION_EVENT = "localcloud.cloudfront.distribution"
VPC_ORIGIN_EVENT = "localcloud.cloudfront.vpc_origin"
ORIGIN_DNS_EVENT = "localcloud.cloudfront.origin_dns"


@dataclass(frozen=True)
class VpcOriginRecord:
    vpc_origin_id: str
    endpoint_arn: str
    name: str
    vpc_id: str | None
    vpc_from: str  # "instance", "load-balancer", or "default-vpc" when the endpoint was not found
    http_port: int


class CloudFrontService:
    def __init__(self, cloud: LocalCloud, s3: S3DataPlane) -> None:
        self._cloud = cloud
        self._s3 = s3
        self._patches = Patches("localcloud.cloudfront")
        self._edges: dict[str, tuple[Edge, AsyncHttpServer]] = {}
        self._vpc_origins: dict[str, VpcOriginRecord] = {}
        self._vpc_dns: dict[str, Server] = {}

    # --- Service ---

    def start(self) -> None:
        from localcloud.cfn import resources

        self._patches.add(Distribution, "_sink", self)
        self._patches.add(VpcOrigin, "_sink", self)
        self._patches.install()
        assert OriginAccessControl.cloudformation_type()  # imported: moto's engine lists it
        resources.register()

    def stop(self) -> None:
        self._patches.uninstall()
        for distribution_id in list(self._edges):
            self.delete_distribution(distribution_id)

    def describe(self) -> dict[str, Any]:
        return {"distributions": {d: {"domain_name": e.domain_name, "address": s.host}
                                  for d, (e, s) in self._edges.items()},
                "vpc_origins": {v.vpc_origin_id: {"endpoint_arn": v.endpoint_arn, "vpc_id": v.vpc_id,
                                                  "vpc_from": v.vpc_from} for v in self._vpc_origins.values()},
                "vpc_dns": {vpc: f"{host}:{port}" for vpc, (host, port) in self._vpc_dns.items()}}

    # --- DistributionSink (moto request threads) ---

    def create_distribution(self, distribution_id: str, config: dict[str, Any]) -> str:
        parsed = parse(distribution_id, config, self._cloud.profile)
        domain = f"d{secrets.token_hex(7)}.cloudfront.net"
        profile = self._cloud.profile
        origin_dns = OriginDns(self._vpc_dns.get, min_ttl_s=profile.delay("cloudfront.origin_dns_min_ttl").mean,
                               negative_cap_s=profile.delay("cloudfront.origin_dns_negative_cap").mean,
                               on_change=lambda new, old: self._dns_changed(distribution_id, new, old))

        async def locate_vpc(origin: Origin) -> tuple[str, int] | UpstreamError:
            return await self._locate_vpc(origin_dns, origin)

        edge = Edge(parsed, domain, self._locate, locate_vpc)
        server = AsyncHttpServer(self._cloud.pool.allocate(f"cloudfront:{distribution_id}"), EDGE_PORT, edge.handle)
        self._cloud.loop.run(server.start())
        self._edges[distribution_id] = (edge, server)
        ttl = round(scaled(self._cloud.profile, "route53.record_ttl", 60.0))
        self._cloud.aliases.set(domain, "A", [server.host], ttl=max(1, ttl))
        self._cloud.events.emit(DISTRIBUTION_EVENT, distribution_id, action="create", domain_name=domain,
                                address=server.host)
        return domain

    def delete_distribution(self, distribution_id: str) -> None:
        found = self._edges.pop(distribution_id, None)
        if found is None:
            return
        edge, server = found
        self._cloud.aliases.remove(edge.domain_name)
        self._cloud.loop.call(server.close)
        self._cloud.events.emit(DISTRIBUTION_EVENT, distribution_id, action="delete", domain_name=edge.domain_name)

    # --- VpcOriginSink (moto request threads) ---

    def create_vpc_origin(self, vpc_origin_id: str, endpoint: dict[str, Any], account_id: str,
                          region_name: str) -> None:
        arn = str(endpoint["Arn"])
        vpc_id, vpc_from = endpoint_vpc(arn, account_id, region_name)
        if vpc_from == "default-vpc":
            log.warning("VPC origin %s: %s not found; resolving in the default VPC %s", vpc_origin_id, arn, vpc_id)
        record = VpcOriginRecord(vpc_origin_id, arn, str(endpoint.get("Name", "")), vpc_id, vpc_from,
                                 int(endpoint.get("HTTPPort") or 80))
        server = self._open_vpc_dns(vpc_id) if vpc_id is not None else None
        self._vpc_origins[vpc_origin_id] = record
        self._cloud.events.emit(VPC_ORIGIN_EVENT, vpc_origin_id, action="create", endpoint_arn=arn,
                                vpc_id=vpc_id, vpc_from=vpc_from, http_port=record.http_port,
                                resolver=None if server is None else f"{server[0]}:{server[1]}")

    def delete_vpc_origin(self, vpc_origin_id: str) -> None:
        if self._vpc_origins.pop(vpc_origin_id, None) is not None:
            self._cloud.events.emit(VPC_ORIGIN_EVENT, vpc_origin_id, action="delete")

    def _open_vpc_dns(self, vpc_id: str) -> Server | None:
        """The VPC's listener on the authoritative server (opened once per VPC; None: no DNS server runs)."""
        if vpc_id in self._vpc_dns:
            return self._vpc_dns[vpc_id]
        try:
            dns: AuthoritativeDNS = self._cloud.service("authoritative")  # type: ignore[assignment]
        except KeyError:
            return None
        try:
            server = dns.vpc_address(vpc_id)
        except KeyError:
            server = dns.add_vpc_listener(vpc_id, host=self._cloud.pool.allocate_service(f"dns:{vpc_id}"),
                                          port=DNS_PORT)
        self._vpc_dns[vpc_id] = server
        return server

    # --- loop thread ---

    async def _locate_vpc(self, origin_dns: OriginDns, origin: Origin) -> tuple[str, int] | UpstreamError:
        record = self._vpc_origins.get(origin.vpc_origin_id or "")
        if record is None or record.vpc_id is None:
            return UpstreamError("dns", f"VPC origin {origin.vpc_origin_id}: no such VPC origin or VPC")
        timeout = max(origin.connect_timeout_s, DNS_TIMEOUT_FLOOR_S)
        answer = await origin_dns.resolve(record.vpc_id, origin.domain_name, timeout)
        if answer.failed:
            return UpstreamError("dns", f"{origin.domain_name} in {record.vpc_id}: {answer.rcode}")
        return answer.addresses[0], record.http_port

    def _dns_changed(self, distribution_id: str, new: OriginAnswer, old: OriginAnswer | None) -> None:
        self._cloud.events.emit(ORIGIN_DNS_EVENT, distribution_id, name=new.name, vpc_id=new.vpc_id,
                                addresses=list(new.addresses), rcode=new.rcode, ttl=new.ttl_s,
                                previous=None if old is None else list(old.addresses))

    def _locate(self, origin: Origin) -> tuple[str, int] | None:
        region = s3_region(origin) if origin.s3 else None
        if region is not None:
            return self._s3.address_of(region), 80
        answer = self._cloud.aliases.resolve(origin.domain_name, "A")
        if answer is None or not answer.values:
            return None
        return answer.values[0], origin.http_port


def endpoint_vpc(arn: str, account_id: str, region_name: str) -> tuple[str | None, str]:
    """(VPC id, where it came from) of a VPC origin's endpoint: an EC2 instance or a load balancer by ARN.
    An endpoint moto does not know falls back to the region's default VPC ("default-vpc")."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    parts = arn.split(":", 5)
    service, region = (parts[2], parts[3] or region_name) if len(parts) == 6 else ("", region_name)
    resource = parts[5] if len(parts) == 6 else ""
    ec2 = ec2_backends[account_id][region]
    if service == "ec2" and resource.startswith("instance/"):
        try:
            vpc_id = ec2.get_instance(resource.split("/", 1)[1]).vpc_id
        except InvalidInstanceIdError:
            vpc_id = None
        if vpc_id:
            return str(vpc_id), "instance"
    elif service == "elasticloadbalancing":
        balancer = elbv2_backends[account_id][region].load_balancers.get(arn)
        if balancer is not None and balancer.vpc_id:
            return str(balancer.vpc_id), "load-balancer"
    default = next((v.id for v in ec2.vpcs.values() if v.is_default), None)
    return (None if default is None else str(default)), "default-vpc"
