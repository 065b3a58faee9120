"""EBS volumes on localcloud: attach/detach with EC2's states and delays, refused across zones and while in use,
the data kept in the volume from one instance to the next (also through a termination), the built-in app serving
it, CloudFormation's volume resources; a lost zone: its instances go down and a group pinned to it cannot launch."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.ec2.zones import INSTANCE_IMPAIRED
from localcloud.events import CAPACITY_ERROR
from tests.localcloud.support import connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration
# Long enough that the state right after the call is still attaching (detaching) on a busy machine.
ATTACH_S = 3.0
DETACH_S = 3.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    profile = tiny_profile(tmp_path_factory.mktemp("profile"), ebs__attach=ATTACH_S, ebs__detach=DETACH_S,
                           asg__detect_impaired=0.5, ec2__ice_retry=0.3)
    with LocalCloud(profile) as running:
        yield running


@pytest.fixture(scope="module")
def subnets(cloud: LocalCloud) -> dict[str, str]:
    """zone -> subnet, for two zones."""
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    return {zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.71.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            for i, zone in enumerate(zones)}


def _instance(cloud: LocalCloud, subnet: str) -> str:
    iid = str(cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                                SubnetId=subnet)["Instances"][0]["InstanceId"])
    cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    return iid


def _volume(cloud: LocalCloud, zone: str) -> str:
    return str(cloud.client("ec2").create_volume(AvailabilityZone=zone, Size=1)["VolumeId"])


def _state(cloud: LocalCloud, volume: str) -> tuple[str, str | None]:
    found = cloud.client("ec2").describe_volumes(VolumeIds=[volume])["Volumes"][0]
    attachments = found.get("Attachments") or []
    return found["State"], attachments[0]["State"] if attachments else None


def _until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met within the timeout")


def _address(cloud: LocalCloud, iid: str) -> str:
    reservations = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"]
    return str(reservations[0]["Instances"][0]["PrivateIpAddress"])


def test_a_volume_attaches_after_the_delay_and_its_data_follows_it_to_the_next_instance(
        cloud: LocalCloud, subnets: dict[str, str]) -> None:
    ec2 = cloud.client("ec2")
    zone = next(iter(subnets))
    first, second = _instance(cloud, subnets[zone]), _instance(cloud, subnets[zone])
    volume = _volume(cloud, zone)
    mount = cloud.workdir / first / "volumes" / "sdf"

    answer = ec2.attach_volume(VolumeId=volume, InstanceId=first, Device="/dev/sdf")
    assert answer["State"] == "attaching"
    assert _state(cloud, volume) == ("in-use", "attaching") and not mount.exists()
    _until(lambda: _state(cloud, volume) == ("in-use", "attached"))
    assert mount.is_dir()
    (mount / "marker").write_text("kept")

    ec2.detach_volume(VolumeId=volume)
    assert _state(cloud, volume) == ("in-use", "detaching") and not mount.exists()  # the device left at once
    with pytest.raises(ClientError, match="VolumeInUse"):  # not available until the detach has ended
        ec2.attach_volume(VolumeId=volume, InstanceId=second, Device="/dev/sdf")
    _until(lambda: _state(cloud, volume) == ("available", None))

    ec2.attach_volume(VolumeId=volume, InstanceId=second, Device="/dev/sdg")
    _until(lambda: _state(cloud, volume)[1] == "attached")
    assert (cloud.workdir / second / "volumes" / "sdg" / "marker").read_text() == "kept"
    kinds = [e.kind for e in cloud.events.since(0)[0] if e.subject == volume]
    assert kinds == ["localcloud.ebs.attaching", "localcloud.ebs.attached", "localcloud.ebs.detaching",
                     "localcloud.ebs.detached", "localcloud.ebs.attaching", "localcloud.ebs.attached"]


def test_attach_is_refused_across_zones_as_ec2_refuses_it(cloud: LocalCloud, subnets: dict[str, str]) -> None:
    here, there = list(subnets)
    instance, volume = _instance(cloud, subnets[there]), _volume(cloud, here)

    with pytest.raises(ClientError) as refused:
        cloud.client("ec2").attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")

    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidVolume.ZoneMismatch"
    assert error["Message"] == (f"The volume '{volume}' is not in the same availability zone as instance "
                                f"'{instance}'")
    assert _state(cloud, volume) == ("available", None)


def test_a_terminated_instance_detaches_its_data_volume_and_the_app_serves_the_data_directory(
        cloud: LocalCloud, subnets: dict[str, str]) -> None:
    ec2 = cloud.client("ec2")
    zone = next(iter(subnets))
    instance, volume = _instance(cloud, subnets[zone]), _volume(cloud, zone)
    address = _address(cloud, instance)
    assert http_get(address, "/data/marker")[0] == 503  # no data volume mounted: the app is up without its data
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    _until(lambda: _state(cloud, volume)[1] == "attached")
    (cloud.workdir / instance / "data").symlink_to(cloud.workdir / instance / "volumes" / "sdf")

    assert http_get(address, "/data/marker")[0] == 404
    assert http_get(address, "/data/marker", method="PUT", headers={"Content-Length": "0"})[0] == 201
    status, headers, body = http_get(address, "/data/marker")
    assert (status, headers["x-served-by"], body) == (200, instance, b"")
    assert http_get(address, "/data/..")[0] == 400

    ec2.terminate_instances(InstanceIds=[instance])
    _until(lambda: _state(cloud, volume) == ("available", None))
    assert (cloud.workdir / "volumes" / volume / "marker").is_file()  # the data outlives the instance
    ec2.delete_volume(VolumeId=volume)
    assert not (cloud.workdir / "volumes" / volume).exists()


def test_cloudformation_attaches_a_volume_in_the_instance_s_zone(cloud: LocalCloud, subnets: dict[str, str]) -> None:
    zone, subnet = next(iter(subnets.items()))
    instance = _instance(cloud, subnet)
    template = {"Resources": {
        "Data": {"Type": "AWS::EC2::Volume", "Properties": {"AvailabilityZone": zone, "Size": 1}},
        "Attach": {"Type": "AWS::EC2::VolumeAttachment",
                   "Properties": {"VolumeId": {"Ref": "Data"}, "InstanceId": instance, "Device": "/dev/sdh"}}},
        "Outputs": {"VolumeId": {"Value": {"Ref": "Data"}}}}
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="volumes", TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName="volumes", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    volume = cfn.describe_stacks(StackName="volumes")["Stacks"][0]["Outputs"][0]["OutputValue"]

    _until(lambda: _state(cloud, volume) == ("in-use", "attached"))
    assert cloud.client("ec2").describe_volumes(VolumeIds=[volume])["Volumes"][0]["AvailabilityZone"] == zone


def test_a_lost_zone_takes_its_instances_down_and_a_group_pinned_to_it_cannot_replace_them(
        cloud: LocalCloud, subnets: dict[str, str]) -> None:
    zone, subnet = next(iter(subnets.items()))
    ec2, asg = cloud.client("ec2"), cloud.client("autoscaling")
    template = ec2.create_launch_template(LaunchTemplateName="pinned", LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(AutoScalingGroupName="pinned", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                  VPCZoneIdentifier=subnet, LaunchTemplate={"LaunchTemplateId": template})
    member = _until(lambda: asg.describe_auto_scaling_groups(AutoScalingGroupNames=["pinned"])
                    ["AutoScalingGroups"][0]["Instances"])[0]["InstanceId"]
    cloud.events.wait_for("localcloud.instance.booted", member, timeout=30)
    address = _address(cloud, member)
    assert connect_outcome(address) == "connected"

    _control(cloud, f"/zones/{zone}/unavailable")
    cloud.events.wait_for(INSTANCE_IMPAIRED, member, timeout=5)
    assert connect_outcome(address) == "hangs"
    assert ec2.describe_instances(InstanceIds=[member])["Reservations"][0]["Instances"][0]["State"]["Name"] \
        == "running"  # EC2 still says so: only its status checks fail
    cloud.events.wait_for("localcloud.instance.terminated", member, timeout=10)  # the group gave up on it
    refused = cloud.events.wait_for(CAPACITY_ERROR, "pinned", timeout=10)
    assert refused.detail["availability_zone"] == zone
    assert json.loads(_control(cloud, "/zones"))["unavailable"] == [zone]

    _control(cloud, f"/zones/{zone}/available")
    launched = _until(lambda: [i for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=["pinned"])
                               ["AutoScalingGroups"][0]["Instances"] if i["InstanceId"] != member])
    assert launched[0]["AvailabilityZone"] == zone
    asg.delete_auto_scaling_group(AutoScalingGroupName="pinned", ForceDelete=True)


def _control(cloud: LocalCloud, path: str) -> str:
    method = "GET" if path == "/zones" else "POST"
    with urllib.request.urlopen(urllib.request.Request(cloud.control_url + path, method=method), timeout=5) as r:
        return str(r.read().decode())
