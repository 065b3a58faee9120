"""The IPv6 half of a dual-stack VPC under moto's CloudFormation: AWS::EC2::VPCCidrBlock and
AWS::EC2::EgressOnlyInternetGateway (moto has the APIs, not the types), `!GetAtt Vpc.Ipv6CidrBlocks`,
and the IPv6 properties moto drops from Subnet (Ipv6CidrBlock, AssignIpv6AddressOnCreation, Ipv6Native)
and Route (DestinationIpv6CidrBlock). Every resource is made through moto's own EC2 backend calls, so
describe_* answers what the template declared.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed
from localcloud.patching import Patches


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _flag(value: Any) -> bool:
    """A template boolean: YAML gives True, JSON parameters and !Sub give "true"."""
    return value is True or str(value).lower() == "true"


def _deploy_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=f"Template error: {message}")


def _unsupported_attribute() -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    return UnformattedGetAttTemplateException()


class VPCCidrBlock(Typed, CloudFormationModel):
    """AWS::EC2::VPCCidrBlock: an Amazon-provided IPv6 /56 or a secondary IPv4 block. Ref is the
    association id; GetAtt Id and Ipv6CidrBlock as on AWS."""

    CFN_TYPE = "AWS::EC2::VPCCidrBlock"

    def __init__(self, vpc_id: str, association_id: str, cidr_block: str) -> None:
        self.vpc_id = vpc_id
        self.association_id = association_id
        self.cidr_block = cidr_block

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> VPCCidrBlock:
        props, name = cloudformation_json.get("Properties", {}), kwargs.get("LogicalId", resource_name)
        amazon_ipv6 = _flag(props.get("AmazonProvidedIpv6CidrBlock", False))
        ipv4 = props.get("CidrBlock")
        if amazon_ipv6 == bool(ipv4):
            raise _deploy_error(f"{name}: AWS::EC2::VPCCidrBlock needs exactly one of "
                                "AmazonProvidedIpv6CidrBlock: true or CidrBlock")
        for unsupported in ("Ipv6CidrBlock", "Ipv6Pool", "Ipv4IpamPoolId", "Ipv6IpamPoolId"):
            if props.get(unsupported):
                raise _deploy_error(f"{name}: localcloud does not support {unsupported} on "
                                    "AWS::EC2::VPCCidrBlock (use AmazonProvidedIpv6CidrBlock or CidrBlock)")
        vpc_id = str(props["VpcId"])
        association = _ec2(account_id, region_name).associate_vpc_cidr_block(
            vpc_id, str(ipv4) if ipv4 else "", amazon_ipv6)
        return cls(vpc_id, association["association_id"], association["cidr_block"])

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Ipv6CidrBlock")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.association_id
        if attribute_name == "Ipv6CidrBlock" and ":" in self.cidr_block:
            return self.cidr_block
        raise _unsupported_attribute()

    @property
    def physical_resource_id(self) -> str:
        return self.association_id

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        vpc = backend.vpcs.get(self.vpc_id)
        if vpc is None:
            return  # the VPC is gone, and its blocks with it
        entry = vpc._cidr_block_association_set.get(self.association_id)
        if entry is not None and entry["cidr_block_state"]["state"] == "associated":
            backend.disassociate_vpc_cidr_block(self.association_id)  # and the local routes it added


class EgressOnlyInternetGateway(Typed, CloudFormationModel):
    """AWS::EC2::EgressOnlyInternetGateway. Ref and GetAtt Id are the gateway id."""

    CFN_TYPE = "AWS::EC2::EgressOnlyInternetGateway"

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> EgressOnlyInternetGateway:
        props = cloudformation_json.get("Properties", {})
        tags = {str(tag["Key"]): str(tag["Value"]) for tag in props.get("Tags") or [] if "Key" in tag}
        gateway = _ec2(account_id, region_name).create_egress_only_internet_gateway(str(props["VpcId"]), tags)
        return cls(gateway.id)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.gateway_id
        raise _unsupported_attribute()

    @property
    def physical_resource_id(self) -> str:
        return self.gateway_id

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if self.gateway_id in backend.egress_only_internet_gateways:
            backend.delete_egress_only_internet_gateway(self.gateway_id)


def ipv6_patches() -> Patches:
    """Subnet, Route, VPC attribute and subnet-describe fixes; install with the resource types above."""
    from moto.ec2.models.route_tables import Route
    from moto.ec2.models.subnets import Subnet
    from moto.ec2.models.vpcs import VPC

    patches = Patches("localcloud.cfn.ipv6")
    patches.add(Subnet, "create_from_cloudformation_json", classmethod(_create_subnet))
    patches.add(Subnet, "ipv6_cidr_block_association_set", property(_subnet_ipv6_associations))
    patches.add(Route, "create_from_cloudformation_json", classmethod(_create_route))
    original_attribute: Callable[[Any, str], Any] = VPC.get_cfn_attribute

    @functools.wraps(original_attribute)
    def get_cfn_attribute(vpc: Any, attribute_name: str) -> Any:
        if attribute_name == "Ipv6CidrBlocks":
            return [block["cidr_block"] for block in vpc.get_cidr_block_association_set(ipv6=True)
                    if block["cidr_block_state"]["state"] == "associated"]
        return original_attribute(vpc, attribute_name)

    patches.add(VPC, "get_cfn_attribute", get_cfn_attribute)
    return patches


def _create_subnet(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                   **kwargs: Any) -> Any:
    props, name = cloudformation_json["Properties"], kwargs.get("LogicalId", resource_name)
    backend = _ec2(account_id, region_name)
    ipv4, ipv6 = props.get("CidrBlock"), props.get("Ipv6CidrBlock")
    native = _flag(props.get("Ipv6Native", False))
    if native and (ipv4 or not ipv6):
        raise _deploy_error(f"{name}: a subnet with Ipv6Native: true needs Ipv6CidrBlock and no CidrBlock")
    if not native and not ipv4:
        raise _deploy_error(f"{name}: CidrBlock is required unless Ipv6Native is true")
    if ipv6:
        _check_ipv6_block(name, str(ipv6), backend.get_vpc(props["VpcId"]))
    elif _flag(props.get("AssignIpv6AddressOnCreation", False)):
        raise _deploy_error(f"{name}: AssignIpv6AddressOnCreation needs an Ipv6CidrBlock")
    tags = {str(tag["Key"]): str(tag["Value"]) for tag in props.get("Tags") or [] if "Key" in tag}
    subnet = backend.create_subnet(
        vpc_id=props["VpcId"], cidr_block=str(ipv4) if ipv4 else None,
        ipv6_cidr_block=str(ipv6) if native else None,  # moto builds a native subnet around its block
        availability_zone=props.get("AvailabilityZone"), availability_zone_id=props.get("AvailabilityZoneId"),
        ipv6_native=native, tags={"subnet": tags})
    if ipv6 and not native:
        backend.associate_subnet_cidr_block(subnet.id, str(ipv6))
    if "AssignIpv6AddressOnCreation" in props:
        backend.modify_subnet_attribute(subnet.id, "assign_ipv6_address_on_creation",
                                        _flag(props["AssignIpv6AddressOnCreation"]))
    return subnet


def _check_ipv6_block(name: str, block: str, vpc: Any) -> None:
    """As EC2 does: a subnet's IPv6 block is a /64 inside one of its VPC's associated IPv6 blocks."""
    try:
        network = ipaddress.IPv6Network(block)
    except ValueError:
        raise _deploy_error(f"{name}: Ipv6CidrBlock {block!r} is not an IPv6 CIDR block") from None
    vpc_blocks = [ipaddress.IPv6Network(entry["cidr_block"]) for entry in vpc.get_cidr_block_association_set(ipv6=True)
                  if entry["cidr_block_state"]["state"] == "associated"]
    if network.prefixlen != 64 or not any(network.subnet_of(parent) for parent in vpc_blocks):
        raise _deploy_error(f"{name}: Ipv6CidrBlock {block} must be a /64 inside the VPC's IPv6 blocks "
                            f"{[str(b) for b in vpc_blocks]} (a VPCCidrBlock the subnet DependsOn)")


def _subnet_ipv6_associations(subnet: Any) -> list[dict[str, Any]]:
    """moto renders the association state as the string of a dict ("{'State': 'associated'}")."""
    return [{"ipv6CidrBlock": entry["ipv6CidrBlock"], "associationId": entry["associationId"],
             "ipv6CidrBlockState": {"state": entry["ipv6CidrBlockState"]["State"]}}
            for entry in subnet.ipv6_cidr_block_associations.values()
            if entry["ipv6CidrBlockState"]["State"] == "associated"]


def _create_route(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                  **kwargs: Any) -> Any:
    props, name = cloudformation_json["Properties"], kwargs.get("LogicalId", resource_name)
    destinations = [props.get(key) for key in ("DestinationCidrBlock", "DestinationIpv6CidrBlock",
                                               "DestinationPrefixListId")]
    if sum(bool(d) for d in destinations) != 1:
        raise _deploy_error(f"{name}: a route needs exactly one of DestinationCidrBlock, "
                            "DestinationIpv6CidrBlock, DestinationPrefixListId")
    ipv4, ipv6, prefix_list = destinations
    return _ec2(account_id, region_name).create_route(
        route_table_id=props["RouteTableId"], destination_cidr_block=ipv4, destination_ipv6_cidr_block=ipv6,
        destination_prefix_list_id=prefix_list, gateway_id=props.get("GatewayId"),
        instance_id=props.get("InstanceId"), nat_gateway_id=props.get("NatGatewayId"),
        egress_only_igw_id=props.get("EgressOnlyInternetGatewayId"),
        transit_gateway_id=props.get("TransitGatewayId"), interface_id=props.get("NetworkInterfaceId"),
        vpc_peering_connection_id=props.get("VpcPeeringConnectionId"),
        carrier_gateway_id=props.get("CarrierGatewayId"), vpc_endpoint_id=props.get("VpcEndpointId"))
