"""Network interfaces attached after launch on localcloud: the interface's own address (and its mapped IPv6)
reaches the instance it is attached to, after the attach delay, and black-holes once it is detached or the
instance terminates; EC2's refusals (in use, another zone, an IPv6 address outside the subnet) are raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.support import connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration
ATTACH_S = 1.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile"), eni__attach_to_traffic=ATTACH_S)) as running:
        yield running


@pytest.fixture(scope="module")
def network(cloud: LocalCloud) -> dict[str, Any]:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
    block = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    subnet_block = block.replace("/56", "/64")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock=f"10.70.{i}.0/24", AvailabilityZone=zone,
                                 **({"Ipv6CidrBlock": subnet_block} if i == 0 else {}))["Subnet"]["SubnetId"]
               for i, zone in enumerate(zones)]
    return {"subnets": subnets, "ipv6_block": subnet_block}


def _instances(cloud: LocalCloud, subnet: str, count: int) -> list[str]:
    ec2 = cloud.client("ec2")
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count,
                                                       SubnetId=subnet)["Instances"]]
    for iid in ids:
        cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    return ids


def _interface(cloud: LocalCloud, network: dict[str, Any]) -> dict[str, Any]:
    fixed = network["ipv6_block"].replace("::/64", "::10")
    return dict(cloud.client("ec2").create_network_interface(
        SubnetId=network["subnets"][0], Ipv6Addresses=[{"Ipv6Address": fixed}])["NetworkInterface"])


def test_the_interface_s_address_reaches_the_attached_instance_then_the_next_one(
        cloud: LocalCloud, network: dict[str, Any]) -> None:
    ec2 = cloud.client("ec2")
    first, second = _instances(cloud, network["subnets"][0], 2)
    eni = _interface(cloud, network)
    address, ipv6 = eni["PrivateIpAddress"], eni["Ipv6Addresses"][0]["Ipv6Address"]
    before = connect_outcome(address)
    mark = len(cloud.events)

    ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=first, DeviceIndex=1)
    during = connect_outcome(address, timeout=0.3)
    routed = cloud.events.wait_for("localcloud.eni.routed", address, since=mark, timeout=10)
    attached = cloud.events.find("localcloud.eni.attached", eni["NetworkInterfaceId"], since=mark)[0]
    served_v4 = http_get(address)[1]["x-served-by"]
    served_v6 = http_get(ipv6)[1]["x-served-by"]

    assert address in cloud.pool and ipv6 == f"::ffff:{address}"
    assert (before, during) == ("hangs", "hangs")
    assert routed.at - attached.at >= ATTACH_S - 0.05
    assert (served_v4, served_v6) == (first, first)

    mark = len(cloud.events)
    ec2.terminate_instances(InstanceIds=[first])
    cloud.events.wait_for("localcloud.eni.unrouted", address, since=mark, timeout=10)
    left = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"][0]
    assert connect_outcome(address) == "hangs"
    assert left["Status"] == "available" and "Attachment" not in left

    mark = len(cloud.events)
    ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=second, DeviceIndex=1)
    cloud.events.wait_for("localcloud.eni.routed", address, since=mark, timeout=10)
    assert http_get(ipv6)[1]["x-served-by"] == second


def test_detaching_black_holes_the_address(cloud: LocalCloud, network: dict[str, Any]) -> None:
    ec2 = cloud.client("ec2")
    (instance,) = _instances(cloud, network["subnets"][0], 1)
    eni = _interface(cloud, network)
    attachment = ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=instance,
                                              DeviceIndex=1)["AttachmentId"]
    cloud.events.wait_for("localcloud.eni.routed", eni["PrivateIpAddress"], timeout=10)

    ec2.detach_network_interface(AttachmentId=attachment, Force=True)

    assert connect_outcome(eni["PrivateIpAddress"]) == "hangs"
    assert cloud.events.find("localcloud.eni.detached", eni["NetworkInterfaceId"])[0].detail["reason"] == "detached"


def test_ec2_s_refusals(cloud: LocalCloud, network: dict[str, Any]) -> None:
    ec2 = cloud.client("ec2")
    here, = _instances(cloud, network["subnets"][0], 1)
    there, = _instances(cloud, network["subnets"][1], 1)
    eni = _interface(cloud, network)
    ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=here, DeviceIndex=1)
    other = _interface(cloud, network)

    with pytest.raises(ClientError) as in_use:
        ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=here, DeviceIndex=2)
    with pytest.raises(ClientError) as elsewhere:
        ec2.attach_network_interface(NetworkInterfaceId=other["NetworkInterfaceId"], InstanceId=there,
                                     DeviceIndex=1)
    with pytest.raises(ClientError) as outside:
        ec2.create_network_interface(SubnetId=network["subnets"][0], Ipv6Addresses=[{"Ipv6Address": "2001:db8::1"}])

    assert in_use.value.response["Error"]["Code"] == "InvalidNetworkInterface.InUse"
    assert elsewhere.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "same availability zone" in elsewhere.value.response["Error"]["Message"]
    assert outside.value.response["Error"]["Code"] == "InvalidParameterValue"
