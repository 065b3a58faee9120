"""IPv6 and Spot on localcloud: mapped IPv6 addresses, mixed-instances Spot groups, capacity errors, interruptions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.localcloud.support import http_get, tiny_profile

pytestmark = pytest.mark.integration
ICE_RETRY = 0.4
SLACK = 0.05
ZONE = "us-east-1a"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    profile = tiny_profile(tmp_path_factory.mktemp("profile"), ec2__ice_retry=ICE_RETRY)
    with LocalCloud(profile, seed=11, services=[]) as running:
        yield running


@pytest.fixture(scope="module")
def subnet(cloud: LocalCloud) -> str:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=ZONE)["Subnet"]["SubnetId"])


@pytest.fixture(scope="module")
def template(cloud: LocalCloud) -> str:
    """IPv6-only style: the primary interface asks for one IPv6 address (moto ignores it; localcloud doesn't)."""
    cloud.client("ec2").create_launch_template(LaunchTemplateName="spot-origin", LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceType": "t3.micro",
        "NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6AddressCount": 1}]})
    return "spot-origin"


def spot_group(cloud: LocalCloud, name: str, template: str, subnet: str) -> None:
    cloud.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=1, MaxSize=1, DesiredCapacity=1, VPCZoneIdentifier=subnet,
        MixedInstancesPolicy={
            "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": template, "Version": "$Latest"},
                               "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "c5.large"}]},
            "InstancesDistribution": {"OnDemandBaseCapacity": 0, "OnDemandPercentageAboveBaseCapacity": 0,
                                      "SpotAllocationStrategy": "capacity-optimized-prioritized"}})


def describe(cloud: LocalCloud, instance_id: str) -> dict[str, Any]:
    answer = cloud.client("ec2").describe_instances(InstanceIds=[instance_id])
    return dict(answer["Reservations"][0]["Instances"][0])


def control(cloud: LocalCloud, method: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(cloud.control_url + path, data=b"" if method == "POST" else None, method=method)
    try:
        with _NO_PROXY.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def imds_get(address: str, path: str) -> tuple[int, bytes]:
    status, _, token = http_get(address, "/latest/api/token", port=8169, method="PUT",
                                headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    status, _, body = http_get(address, path, port=8169, headers={"X-aws-ec2-metadata-token": token.decode()})
    return status, body


def test_an_instance_asking_for_ipv6_gets_the_mapped_address_in_describe_imds_and_on_the_wire(
        cloud: LocalCloud, subnet: str) -> None:
    ec2 = cloud.client("ec2")
    v6 = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                           Ipv6AddressCount=1)["Instances"][0]["InstanceId"]
    v4 = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                           SubnetId=subnet)["Instances"][0]["InstanceId"]
    for iid in (v6, v4):
        cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    with6, without = describe(cloud, v6), describe(cloud, v4)
    address, mac = with6["PrivateIpAddress"], with6["NetworkInterfaces"][0]["MacAddress"]
    mapped = f"::ffff:{address}"

    with _NO_PROXY.open(f"http://[{mapped}]/", timeout=5) as response:
        served_by = response.headers["X-Served-By"]

    assert with6["Ipv6Address"] == mapped
    assert [a["Ipv6Address"] for a in with6["NetworkInterfaces"][0]["Ipv6Addresses"]] == [mapped]
    assert imds_get(address, "/latest/meta-data/ipv6") == (200, mapped.encode())
    assert imds_get(address, f"/latest/meta-data/network/interfaces/macs/{mac}/ipv6s") == (200, mapped.encode())
    assert served_by == v6
    assert "Ipv6Address" not in without and without["NetworkInterfaces"][0]["Ipv6Addresses"] == []
    assert imds_get(without["PrivateIpAddress"], "/latest/meta-data/ipv6")[0] == 404


def test_a_subnet_that_assigns_ipv6_on_creation_gives_every_instance_the_mapped_address(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    v6_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone=ZONE)["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=v6_subnet, AssignIpv6AddressOnCreation={"Value": True})

    launched = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=v6_subnet)["Instances"][0]

    assert describe(cloud, launched["InstanceId"])["Ipv6Address"] == f"::ffff:{launched['PrivateIpAddress']}"


def test_an_all_spot_mixed_instances_group_launches_spot_of_the_first_override(
        cloud: LocalCloud, subnet: str, template: str) -> None:
    mark = len(cloud.events)
    spot_group(cloud, "spot-plain", template, subnet)
    fulfilled = cloud.events.wait_for("localcloud.spot.fulfilled", since=mark, timeout=5,
                                      where=lambda e: e.detail["asg"] == "spot-plain")
    instance = describe(cloud, fulfilled.subject)

    assert (instance["InstanceLifecycle"], instance["InstanceType"]) == ("spot", "m5.large")
    assert instance["Ipv6Address"] == f"::ffff:{instance['PrivateIpAddress']}"  # from the launch template
    assert fulfilled.detail["availability_zone"] == ZONE and fulfilled.detail["attempt"] == 1
    assert not cloud.events.find("localcloud.ec2.capacity_error", "spot-plain", since=mark)


def test_no_capacity_for_the_first_pool_moves_the_group_to_the_next_override_until_cleared(
        cloud: LocalCloud, subnet: str, template: str) -> None:
    mark = len(cloud.events)
    declared = control(cloud, "POST", f"/spot/capacity/{ZONE}/m5.large/unavailable")
    spot_group(cloud, "spot-ice", template, subnet)
    fulfilled = cloud.events.wait_for("localcloud.spot.fulfilled", since=mark, timeout=10,
                                      where=lambda e: e.detail["asg"] == "spot-ice")
    error = cloud.events.find("localcloud.ec2.capacity_error", "spot-ice", since=mark)[0]

    cleared = control(cloud, "POST", f"/spot/capacity/{ZONE}/m5.large/available")
    again = len(cloud.events)
    cloud.client("ec2").terminate_instances(InstanceIds=[fulfilled.subject])
    replacement = cloud.events.wait_for("localcloud.spot.fulfilled", since=again, timeout=10,
                                        where=lambda e: e.detail["asg"] == "spot-ice")

    assert declared == (200, json.dumps({"unavailable": [{"instance_type": "m5.large",
                                                           "availability_zone": ZONE}]}).encode())
    assert (error.detail["instance_type"], error.detail["availability_zone"], error.detail["attempt"]) == \
        ("m5.large", ZONE, 1)
    assert (fulfilled.detail["instance_type"], fulfilled.detail["attempt"]) == ("c5.large", 2)
    assert describe(cloud, fulfilled.subject)["InstanceType"] == "c5.large"
    assert fulfilled.at - error.at >= ICE_RETRY - SLACK
    assert cleared == (200, b'{"unavailable": []}')
    assert replacement.detail["instance_type"] == "m5.large"
    assert not cloud.events.find("localcloud.ec2.capacity_error", "spot-ice", since=again)


def test_a_group_with_no_capacity_anywhere_keeps_retrying_and_reporting(
        cloud: LocalCloud, subnet: str, template: str) -> None:
    mark = len(cloud.events)
    for instance_type in ("m5.large", "c5.large"):
        control(cloud, "POST", f"/spot/capacity/{ZONE}/{instance_type}/unavailable")
    try:
        spot_group(cloud, "spot-dry", template, subnet)
        cloud.events.wait_for("localcloud.ec2.capacity_error", "spot-dry", since=mark, timeout=10,
                              where=lambda e: e.detail["attempt"] == 4)
        launched_while_dry = cloud.events.find("localcloud.spot.fulfilled", since=mark)
    finally:
        for instance_type in ("m5.large", "c5.large"):
            control(cloud, "POST", f"/spot/capacity/{ZONE}/{instance_type}/available")
    fulfilled = cloud.events.wait_for("localcloud.spot.fulfilled", since=mark, timeout=10,
                                      where=lambda e: e.detail["asg"] == "spot-dry")
    errors = cloud.events.find("localcloud.ec2.capacity_error", "spot-dry", since=mark)

    assert [e.detail["instance_type"] for e in errors[:4]] == ["m5.large", "c5.large", "m5.large", "c5.large"]
    assert not [e for e in launched_while_dry if e.detail["asg"] == "spot-dry"]
    assert fulfilled.detail["attempt"] == len(errors) + 1


def test_an_interruption_notices_in_imds_then_terminates_after_the_lead_and_the_group_replaces(
        cloud: LocalCloud, subnet: str, template: str) -> None:
    mark = len(cloud.events)
    spot_group(cloud, "spot-itn", template, subnet)
    victim = cloud.events.wait_for("localcloud.spot.fulfilled", since=mark, timeout=5,
                                   where=lambda e: e.detail["asg"] == "spot-itn").subject
    cloud.events.wait_for("localcloud.instance.booted", victim, timeout=10)
    address = describe(cloud, victim)["PrivateIpAddress"]
    before = [imds_get(address, f"/latest/meta-data/{p}")[0]
              for p in ("spot/instance-action", "spot/termination-time", "events/recommendations/rebalance")]

    status, body = control(cloud, "POST", f"/spot/{victim}/interrupt?lead_seconds=1")
    action = json.loads(imds_get(address, "/latest/meta-data/spot/instance-action")[1])
    rebalance = json.loads(imds_get(address, "/latest/meta-data/events/recommendations/rebalance")[1])
    termination_time = imds_get(address, "/latest/meta-data/spot/termination-time")[1].decode()
    notice = cloud.events.find("localcloud.spot.interruption_notice", victim)[0]
    interrupted = cloud.events.wait_for("localcloud.spot.interrupted", victim, timeout=5)
    terminated = cloud.events.wait_for("localcloud.instance.terminated", victim, timeout=5)
    replacement = cloud.events.wait_for("localcloud.spot.fulfilled", since=terminated.seq, timeout=10,
                                        where=lambda e: e.detail["asg"] == "spot-itn")
    cloud.events.wait_for("localcloud.instance.booted", replacement.subject, timeout=10)

    assert before == [404, 404, 404]
    assert status == 200 and json.loads(body)["termination_time"] == action["time"] == termination_time
    assert action["action"] == "terminate" and rebalance["noticeTime"].endswith("Z")
    assert cloud.events.find("localcloud.spot.rebalance", victim)
    assert interrupted.at - notice.at >= 1.0 - SLACK and interrupted.seq < terminated.seq
    assert describe(cloud, victim)["State"]["Name"] == "terminated"
    assert cloud.events.find("localcloud.asg.unhealthy", victim)  # the ordinary replacement physics ran
    assert replacement.subject != victim and describe(cloud, replacement.subject)["InstanceLifecycle"] == "spot"


def test_bad_control_requests_are_refused_with_a_one_line_reason(cloud: LocalCloud, subnet: str) -> None:
    ec2 = cloud.client("ec2")
    on_demand = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                  SubnetId=subnet)["Instances"][0]["InstanceId"]

    answers = {
        "on-demand": control(cloud, "POST", f"/spot/{on_demand}/interrupt"),
        "unknown": control(cloud, "POST", "/spot/i-0123456789abcdef0/interrupt"),
        "bad lead": control(cloud, "POST", f"/spot/{on_demand}/interrupt?lead_seconds=soon"),
        "bad zone": control(cloud, "POST", "/spot/capacity/nowhere/m5.large/unavailable"),
        "bad state": control(cloud, "POST", f"/spot/capacity/{ZONE}/m5.large/gone"),
        "get interrupt": control(cloud, "GET", f"/spot/{on_demand}/interrupt"),
    }

    assert {k: status for k, (status, _) in answers.items()} == {
        "on-demand": 400, "unknown": 404, "bad lead": 400, "bad zone": 400, "bad state": 400, "get interrupt": 405}
    assert answers["on-demand"][1] == f"{on_demand} is not a Spot instance\n".encode()
    assert all(body.count(b"\n") == 1 for _, body in answers.values())
