"""AWS::Route53::HostedZone with `VPCs`: moto's CloudFormation makes every zone public and drops its
VPCs and comment, so a private zone (answered only inside its VPCs) could not come from a template."""

from __future__ import annotations

from typing import Any

from localcloud.patching import Patches


def private_zone_patches() -> Patches:
    from moto.route53.models import FakeZone

    patches = Patches("localcloud.cfn.private_zones")
    patches.add(FakeZone, "create_from_cloudformation_json", classmethod(_create_zone))
    return patches


def _create_zone(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                 **kwargs: Any) -> Any:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    props = cloudformation_json.get("Properties", {})
    vpcs = [(str(v["VPCId"]), str(v.get("VPCRegion") or region_name)) for v in props.get("VPCs") or []]
    comment = (props.get("HostedZoneConfig") or {}).get("Comment")
    backend = route53_backends[account_id][get_partition(region_name)]
    first = vpcs[0] if vpcs else (None, None)
    zone = backend.create_hosted_zone(resource_name, private_zone=bool(vpcs), vpcid=first[0], vpcregion=first[1],
                                      comment=comment)
    for vpc_id, vpc_region in vpcs[1:]:
        backend.associate_vpc_with_hosted_zone(zone.id, vpc_id, vpc_region)
    return zone
