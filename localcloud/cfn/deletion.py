"""Deleters for the resource types moto's delete_stack leaves behind, keyed by CloudFormation type.

Each takes the parsed resource (moto's model object), the account and the region. A deleter that
raises (e.g. a dependency still exists) is retried by moto's delete loop in its next pass, as
CloudFormation itself orders deletions; a resource already gone counts as deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localcloud.cfn import ecs_elb, network_interfaces, volumes

Deleter = Callable[[Any, str, str], None]


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def delete_eip(eip: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    if eip in backend.addresses:
        if eip.allocation_id:
            backend.release_address(allocation_id=eip.allocation_id)
        else:
            backend.release_address(address=eip.public_ip)


def delete_internet_gateway(igw: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    if igw.id in backend.internet_gateways:
        backend.delete_internet_gateway(igw.id)  # DependencyViolation while still attached: retried


def delete_gateway_attachment(attachment: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    gateway_id, vpc_id = attachment.gateway_id, attachment.vpc_id
    if gateway_id.startswith("igw-"):
        igw = backend.internet_gateways.get(gateway_id)
        if igw is not None and igw.vpc is not None and igw.vpc.id == vpc_id:
            backend.detach_internet_gateway(gateway_id, vpc_id)
    elif gateway_id in backend.vpn_gateways and vpc_id in backend.vpn_gateways[gateway_id].attachments:
        backend.detach_vpn_gateway(gateway_id, vpc_id)


def delete_route_table(route_table: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    if route_table.id in backend.route_tables:
        backend.delete_route_table(route_table.id)


def delete_route(route: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    table = backend.route_tables.get(route.route_table.id)
    if table is None or route.id not in table._routes:
        return
    prefix_list = route.destination_prefix_list
    backend.delete_route(table.id, route.destination_cidr_block, route.destination_ipv6_cidr_block,
                         prefix_list.id if prefix_list is not None else None)


def delete_subnet_association(association: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    backend.subnet_associations.pop(f"{association.route_table_id}:{association.subnet_id}", None)


def delete_hosted_zone(zone: Any, account_id: str, region: str) -> None:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    backend = route53_backends[account_id][get_partition(region)]
    zone_id = str(zone.id).rsplit("/", 1)[-1]  # the model says /hostedzone/ID, the table is keyed by ID
    if zone_id in backend.zones:
        backend.delete_hosted_zone(zone_id)  # HostedZoneNotEmpty until its records are gone: retried


DELETERS: dict[str, Deleter] = {
    "AWS::EC2::EIP": delete_eip,
    "AWS::EC2::NetworkInterface": network_interfaces.delete_interface,
    "AWS::EC2::InternetGateway": delete_internet_gateway,
    "AWS::EC2::Volume": volumes.delete_volume,
    "AWS::EC2::VolumeAttachment": volumes.delete_volume_attachment,
    "AWS::EC2::VPCGatewayAttachment": delete_gateway_attachment,
    "AWS::EC2::RouteTable": delete_route_table,
    "AWS::EC2::Route": delete_route,
    "AWS::EC2::SubnetRouteTableAssociation": delete_subnet_association,
    "AWS::Route53::HostedZone": delete_hosted_zone,
    "AWS::Route53::RecordSet": ecs_elb.delete_record_set,
    "AWS::ECS::Service": ecs_elb.delete_ecs_service,
    "AWS::ECS::Cluster": ecs_elb.delete_ecs_cluster,
    "AWS::ElasticLoadBalancingV2::TargetGroup": ecs_elb.delete_target_group,
}
