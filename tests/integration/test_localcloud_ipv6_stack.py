"""A dual-stack private VPC template, written for AWS, deployed on localcloud as it is: the IPv6 block, the
subnets carved from it with Fn::Cidr, the egress-only gateway and its route, IPv6 ingress; and its deletion."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

SUBNET = """
  Subnet{i}:
    Type: AWS::EC2::Subnet
    DependsOn: Ipv6Block
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.61.{i}.0/24
      AvailabilityZone: !Select [{i}, !GetAZs '']
      Ipv6CidrBlock: !Select [{i}, !Cidr [!Select [0, !GetAtt Vpc.Ipv6CidrBlocks], 2, 64]]
      AssignIpv6AddressOnCreation: true
"""
TEMPLATE = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.61.0.0/16}}
  Ipv6Block: {Type: AWS::EC2::VPCCidrBlock, Properties: {VpcId: !Ref Vpc, AmazonProvidedIpv6CidrBlock: true}}
""" + SUBNET.format(i=0) + SUBNET.format(i=1) + """
  EgressOnly: {Type: AWS::EC2::EgressOnlyInternetGateway, Properties: {VpcId: !Ref Vpc}}
  Routes: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref Vpc}}
  Ipv6Default:
    Type: AWS::EC2::Route
    Properties:
      RouteTableId: !Ref Routes
      DestinationIpv6CidrBlock: '::/0'
      EgressOnlyInternetGatewayId: !Ref EgressOnly
  Web:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: dual-stack web
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIpv6: '::/0', Description: https over IPv6}
        - {IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIp: 10.61.0.0/16}
      SecurityGroupEgress:
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIpv6: '::/0'}
Outputs:
  VpcId: {Value: !Ref Vpc}
  Ipv6Block: {Value: !Select [0, !GetAtt Vpc.Ipv6CidrBlocks]}
  Association: {Value: !Ref Ipv6Block}
  EgressOnly: {Value: !GetAtt EgressOnly.Id}
  Subnets: {Value: !Join [',', [!Ref Subnet0, !Ref Subnet1]]}
  RouteTable: {Value: !Ref Routes}
  Web: {Value: !Ref Web}
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=6, services=[]) as running:
        yield running


def deploy(cloud: LocalCloud, name: str, template: str) -> dict[str, str]:
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=template)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_the_dual_stack_vpc_is_described_as_declared(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")

    out = deploy(cloud, "dual", TEMPLATE)

    vpc = ec2.describe_vpcs(VpcIds=[out["VpcId"]])["Vpcs"][0]
    [association] = vpc["Ipv6CidrBlockAssociationSet"]
    block = ipaddress.IPv6Network(association["Ipv6CidrBlock"])
    assert (association["AssociationId"], association["Ipv6CidrBlockState"]["State"], block.prefixlen) == \
        (out["Association"], "associated", 56)
    assert out["Ipv6Block"] == str(block)
    subnets = ec2.describe_subnets(SubnetIds=out["Subnets"].split(","))["Subnets"]
    by_ipv4 = {s["CidrBlock"]: s for s in subnets}
    first_two = [str(b) for b in list(block.subnets(new_prefix=64))[:2]]
    for i, expected in enumerate(first_two):
        subnet = by_ipv4[f"10.61.{i}.0/24"]
        assert [(a["Ipv6CidrBlock"], a["Ipv6CidrBlockState"]["State"])
                for a in subnet["Ipv6CidrBlockAssociationSet"]] == [(expected, "associated")]
        assert subnet["AssignIpv6AddressOnCreation"] is True
    gateway = ec2.describe_egress_only_internet_gateways(
        EgressOnlyInternetGatewayIds=[out["EgressOnly"]])["EgressOnlyInternetGateways"][0]
    assert gateway["Attachments"] == [{"State": "attached", "VpcId": out["VpcId"]}]
    routes = ec2.describe_route_tables(RouteTableIds=[out["RouteTable"]])["RouteTables"][0]["Routes"]
    assert {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": out["EgressOnly"]}.items() <= \
        next(r for r in routes if r.get("DestinationIpv6CidrBlock") == "::/0").items()
    group = ec2.describe_security_groups(GroupIds=[out["Web"]])["SecurityGroups"][0]
    rules = group["IpPermissions"]
    assert [(r["IpProtocol"], r["FromPort"], r["Ipv6Ranges"], r["IpRanges"]) for r in group["IpPermissionsEgress"]] \
        == [("tcp", 443, [{"CidrIpv6": "::/0"}], [])]
    assert [(r["FromPort"], r["Ipv6Ranges"], [x["CidrIp"] for x in r["IpRanges"]]) for r in sorted(
        rules, key=lambda r: r["FromPort"])] == [
        (80, [], ["10.61.0.0/16"]), (443, [{"CidrIpv6": "::/0", "Description": "https over IPv6"}], [])]


def test_delete_stack_removes_the_ipv6_pieces_with_the_vpc(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    out = deploy(cloud, "gone", TEMPLATE)

    cloud.client("cloudformation").delete_stack(StackName="gone")

    assert not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [out["VpcId"]]}])["Vpcs"]
    assert out["EgressOnly"] not in {g["EgressOnlyInternetGatewayId"] for g in
                                     ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]}
    assert not ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [out["VpcId"]]}])["Subnets"]
    assert not ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [out["Web"]]}])["SecurityGroups"]


def test_an_ipv6_native_subnet_and_standalone_ipv6_ingress(cloud: LocalCloud) -> None:
    template = """
Resources:
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.62.0.0/16}}
  Ipv6Block: {Type: AWS::EC2::VPCCidrBlock, Properties: {VpcId: !Ref Vpc, AmazonProvidedIpv6CidrBlock: true}}
  Native:
    Type: AWS::EC2::Subnet
    DependsOn: Ipv6Block
    Properties:
      VpcId: !Ref Vpc
      Ipv6Native: true
      AssignIpv6AddressOnCreation: true
      Ipv6CidrBlock: !Select [3, !Cidr [!Select [0, !GetAtt Vpc.Ipv6CidrBlocks], 4, 64]]
  Group: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: g, VpcId: !Ref Vpc}}
  Health:
    Type: AWS::EC2::SecurityGroupIngress
    Properties: {GroupId: !Ref Group, IpProtocol: tcp, FromPort: 9000, ToPort: 9000, CidrIpv6: '2001:db8::/32'}
Outputs:
  Native: {Value: !Ref Native}
  Group: {Value: !Ref Group}
"""
    ec2 = cloud.client("ec2")

    out = deploy(cloud, "native", template)

    subnet = ec2.describe_subnets(SubnetIds=[out["Native"]])["Subnets"][0]
    assert (subnet["Ipv6Native"], subnet["AssignIpv6AddressOnCreation"], subnet.get("CidrBlock")) == (True, True, None)
    assert subnet["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"].endswith("03::/64")
    [rule] = ec2.describe_security_groups(GroupIds=[out["Group"]])["SecurityGroups"][0]["IpPermissions"]
    assert (rule["FromPort"], rule["Ipv6Ranges"]) == (9000, [{"CidrIpv6": "2001:db8::/32"}])


@pytest.mark.parametrize(("name", "subnet_properties", "says"), [
    ("outside", "CidrBlock: 10.63.0.0/24, Ipv6CidrBlock: '2001:db8:0:1::/64'",
     "Ipv6CidrBlock 2001:db8:0:1::/64 must be a /64 inside the VPC's IPv6 blocks"),
    ("bits", "CidrBlock: 10.63.0.0/24, Ipv6CidrBlock: !Select [0, !Cidr ['2001:db8::/56', 1, 73]]",
     "Fn::Cidr: cidrBits 73 does not fit"),
    ("native", "Ipv6Native: true, CidrBlock: 10.63.0.0/24", "Ipv6Native: true needs Ipv6CidrBlock and no CidrBlock"),
])
def test_a_template_aws_would_refuse_fails_the_deploy_naming_the_property(
        cloud: LocalCloud, name: str, subnet_properties: str, says: str) -> None:
    template = f"""
Resources:
  Vpc: {{Type: AWS::EC2::VPC, Properties: {{CidrBlock: 10.63.0.0/16}}}}
  Broken: {{Type: AWS::EC2::Subnet, Properties: {{VpcId: !Ref Vpc, {subnet_properties}}}}}
"""
    with pytest.raises(ClientError) as refused:
        cloud.client("cloudformation").create_stack(StackName=f"refused-{name}", TemplateBody=template)

    error: dict[str, Any] = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert says in error["Message"]


def test_a_list_parameter_default_is_a_list(cloud: LocalCloud) -> None:
    """moto split a list parameter only when it was passed; its default stayed one string (Select picked a
    character)."""
    template = """
Parameters:
  Types: {Type: CommaDelimitedList, Default: "t3.micro, t3a.micro"}
  Ports: {Type: "List<Number>", Default: "80,443"}
Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  Second: {Value: !Select [1, !Ref Types]}
  Joined: {Value: !Join ["|", !Ref Types]}
  FirstPassed: {Value: !Select [0, !Ref Ports]}
"""
    outputs = deploy(cloud, "list-defaults", template)
    assert (outputs["Second"], outputs["Joined"], outputs["FirstPassed"]) == ("t3a.micro", "t3.micro|t3a.micro", "80")


def test_a_condition_named_inside_another_is_resolved(cloud: LocalCloud) -> None:
    """moto read `!Not [!Condition X]` as always true: a resource meant only for the other case was created."""
    template = """
Parameters:
  Mode: {Type: String, Default: a}
Conditions:
  IsA: !Equals [!Ref Mode, a]
  NotA: !Not [!Condition IsA]
  AAndNotA: !And [!Condition IsA, !Condition NotA]
Resources:
  OnlyForA: {Type: AWS::SNS::Topic, Condition: IsA}
  OnlyForOthers: {Type: AWS::SNS::Topic, Condition: NotA}
  Never: {Type: AWS::SNS::Topic, Condition: AAndNotA}
Outputs:
  Made: {Value: !If [NotA, others, a]}
"""
    outputs = deploy(cloud, "nested-conditions", template)
    resources = cloud.client("cloudformation").describe_stack_resources(StackName="nested-conditions")
    topics = [r["LogicalResourceId"] for r in resources["StackResources"] if r.get("ResourceType") == "AWS::SNS::Topic"]
    assert topics == ["OnlyForA"]
    assert outputs["Made"] == "a"
