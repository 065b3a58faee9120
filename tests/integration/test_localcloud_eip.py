"""Elastic IPs on localcloud: loopback addresses, black hole until the association delay has passed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud import LocalCloud
from tests.localcloud.support import TINY_DELAYS, connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration
ASSOCIATE = TINY_DELAYS["eip.associate_to_traffic"]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile"), eip__associate_to_traffic=1.5)) as running:
        yield running


@pytest.fixture(scope="module")
def instances(cloud: LocalCloud) -> list[str]:
    ec2 = cloud.client("ec2")
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2)["Instances"]]
    for iid in ids:
        cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    return ids


def test_elastic_ips_come_from_the_cloud_s_block_never_from_moto_s(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    allocated = [ec2.allocate_address(Domain="vpc")["PublicIp"] for _ in range(3)]

    assert all(ip in cloud.pool and not ip.startswith("54.214.") for ip in allocated)
    assert all(connect_outcome(ip) == "hangs" for ip in allocated)  # unassociated: a black hole


def test_an_elastic_ip_routes_only_after_the_association_delay(cloud: LocalCloud, instances: list[str]) -> None:
    ec2 = cloud.client("ec2")
    eip = ec2.allocate_address(Domain="vpc")
    mark = len(cloud.events)

    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=instances[0])
    during = connect_outcome(eip["PublicIp"], timeout=0.3)
    routed = cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], since=mark, timeout=10)
    status, headers, _ = http_get(eip["PublicIp"])
    associated = cloud.events.find("localcloud.eip.associated", eip["PublicIp"], since=mark)[0]

    assert during == "hangs"
    assert routed.at - associated.at >= 1.5 - 0.05
    assert (status, headers["x-served-by"]) == (200, instances[0])
    described = ec2.describe_instances(InstanceIds=[instances[0]])["Reservations"][0]["Instances"][0]
    assert described["PublicIpAddress"] == eip["PublicIp"]


def test_reassociation_black_holes_then_serves_the_new_instance(cloud: LocalCloud, instances: list[str]) -> None:
    ec2 = cloud.client("ec2")
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=instances[0])
    cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], timeout=10)
    mark = len(cloud.events)

    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=instances[1], AllowReassociation=True)
    during = connect_outcome(eip["PublicIp"], timeout=0.3)
    cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], since=mark, timeout=10)
    unrouted = cloud.events.find("localcloud.eip.unrouted", eip["PublicIp"], since=mark)

    assert during == "hangs"
    assert http_get(eip["PublicIp"])[1]["x-served-by"] == instances[1]
    assert unrouted and unrouted[0].detail["reason"] == "reassociated"


def test_disassociation_and_release_black_hole_the_address(cloud: LocalCloud, instances: list[str]) -> None:
    ec2 = cloud.client("ec2")
    eip = ec2.allocate_address(Domain="vpc")
    association = ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=instances[0])
    cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], timeout=10)

    ec2.disassociate_address(AssociationId=association["AssociationId"])
    cloud.events.wait_for("localcloud.eip.unrouted", eip["PublicIp"], timeout=5)
    after_disassociate = connect_outcome(eip["PublicIp"])
    ec2.release_address(AllocationId=eip["AllocationId"])
    released = cloud.events.wait_for("localcloud.eip.released", eip["PublicIp"], timeout=5)

    assert after_disassociate == "hangs" and connect_outcome(eip["PublicIp"]) == "hangs"
    assert released.detail["allocation_id"] == eip["AllocationId"]


def test_terminating_the_instance_unroutes_and_disassociates_its_elastic_ip(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], timeout=10)

    ec2.terminate_instances(InstanceIds=[iid])
    unrouted = cloud.events.wait_for("localcloud.eip.unrouted", eip["PublicIp"], timeout=5)

    assert unrouted.detail == {"instance": iid, "reason": "instance terminated"}
    assert connect_outcome(eip["PublicIp"]) == "hangs"
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
