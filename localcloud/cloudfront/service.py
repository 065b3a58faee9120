"""The CloudFront service of a LocalCloud: the sink of the AWS::CloudFront::Distribution resource type.

Creating a distribution starts its edge (port 80 on a new loopback address) and publishes its domain
name `d<id>.cloudfront.net` in the cloud's alias table, so Route 53 aliases and clients resolve it.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from localcloud.cfn.cloudfront import Distribution, OriginAccessControl
from localcloud.cloudfront.config import Origin, parse
from localcloud.cloudfront.edge import Edge, s3_region
from localcloud.net.async_http import AsyncHttpServer
from localcloud.patching import Patches
from localcloud.timescale import scaled

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.s3.dataplane import S3DataPlane

log = logging.getLogger(__name__)

EDGE_PORT = 80
DISTRIBUTION_EVENT = "localcloud.cloudfront.distribution"


class CloudFrontService:
    def __init__(self, cloud: LocalCloud, s3: S3DataPlane) -> None:
        self._cloud = cloud
        self._s3 = s3
        self._patches = Patches("localcloud.cloudfront")
        self._edges: dict[str, tuple[Edge, AsyncHttpServer]] = {}

    # --- Service ---

    def start(self) -> None:
        from localcloud.cfn import resources

        self._patches.add(Distribution, "_sink", self)
        self._patches.install()
        assert OriginAccessControl.cloudformation_type()  # imported: moto's engine lists it
        resources.register()

    def stop(self) -> None:
        self._patches.uninstall()
        for distribution_id in list(self._edges):
            self.delete_distribution(distribution_id)

    def describe(self) -> dict[str, Any]:
        return {"distributions": {d: {"domain_name": e.domain_name, "address": s.host}
                                  for d, (e, s) in self._edges.items()}}

    # --- DistributionSink (moto request threads) ---

    def create_distribution(self, distribution_id: str, config: dict[str, Any]) -> str:
        parsed = parse(distribution_id, config, self._cloud.profile)
        domain = f"d{secrets.token_hex(7)}.cloudfront.net"
        edge = Edge(parsed, domain, self._locate)
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

    # --- loop thread ---

    def _locate(self, origin: Origin) -> tuple[str, int] | None:
        region = s3_region(origin) if origin.s3 else None
        if region is not None:
            return self._s3.address_of(region), 80
        answer = self._cloud.aliases.resolve(origin.domain_name, "A")
        if answer is None or not answer.values:
            return None
        return answer.values[0], origin.http_port
