"""The eip-self-healing reference stack on localcloud: CloudFormation, the group's replacement, deletion."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.ec2.instances import APP_PORT_EVENT, OWNER_APP
from tests.localcloud.support import TINY_DELAYS, connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "stacks" / "eip-self-healing" / "template.yaml"
SLACK = 0.05


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=11, userdata_timeout_s=120) as running:
        yield running


def create(cloud: LocalCloud, name: str, template: str) -> dict[str, str]:
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "ZoneName", "ParameterValue": f"{name}.gameday.test"}])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def group_instance(cloud: LocalCloud, group: str) -> str:
    groups = cloud.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return str(groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"])


def serving(cloud: LocalCloud, iid: str) -> None:
    """Wait until the built-in app has the instance's port. The address routes `eip.associate_to_traffic` after
    the bootstrap's associate-address call, but the port stays the user data's until the script has ended, and
    the CLI's own exit after that call takes its time (0.14-0.39 s with two CPU hogs, against the tiny
    profile's 0.8 s): until then the Elastic IP forwards to a port that refuses, and the client's connection
    is closed without an answer."""
    assert cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=30).detail["owner"] == OWNER_APP


def test_terminated_instance_is_replaced_after_detection_launch_and_boot(cloud: LocalCloud) -> None:
    outputs = create(cloud, "heal", TEMPLATE.read_text())
    eip, group = outputs["PublicIp"], outputs["AutoScalingGroupName"]
    cloud.events.wait_for("localcloud.eip.routed", eip, timeout=90)
    first = group_instance(cloud, group)
    serving(cloud, first)
    assert http_get(eip)[1]["x-served-by"] == first
    mark = len(cloud.events)

    cloud.client("ec2").terminate_instances(InstanceIds=[first])
    routed = cloud.events.wait_for("localcloud.eip.routed", eip, since=mark, timeout=90)
    second = routed.detail["instance"]
    serving(cloud, second)
    cloud.events.wait_for("localcloud.userdata.exit", second, timeout=5)  # recorded just after the decision
    found = {kind: cloud.events.find(f"localcloud.{kind}", subject, since=mark)[0] for kind, subject in [
        ("instance.terminated", first), ("asg.unhealthy", first), ("asg.launch", second),
        ("instance.pending", second), ("instance.running", second), ("instance.booted", second),
        ("eip.associated", eip), ("userdata.exit", second)]}
    order = list(found)

    assert second != first and group_instance(cloud, group) == second
    assert sorted(order, key=lambda k: found[k].seq) == order
    assert found["asg.unhealthy"].at - found["instance.terminated"].at >= TINY_DELAYS["asg.detect_not_running"] - SLACK
    assert found["asg.launch"].at - found["asg.unhealthy"].at >= TINY_DELAYS["ec2.run_instances_api"] - SLACK
    assert found["userdata.exit"].detail["code"] == 0
    assert routed.at - found["eip.associated"].at >= TINY_DELAYS["eip.associate_to_traffic"] - SLACK
    assert http_get(eip)[1]["x-served-by"] == second


def test_the_launch_template_s_profile_and_metadata_options_reach_the_instance(cloud: LocalCloud) -> None:
    outputs = create(cloud, "lt", TEMPLATE.read_text())
    cloud.events.wait_for("localcloud.eip.routed", outputs["PublicIp"], timeout=90)
    iid = group_instance(cloud, outputs["AutoScalingGroupName"])

    described = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    assert described["IamInstanceProfile"]["Arn"].startswith("arn:aws:iam::123456789012:instance-profile/lt-")
    assert described["MetadataOptions"]["HttpTokens"] == "required"
    assert described["PrivateIpAddress"] in cloud.pool


def test_broken_user_data_leaves_the_elastic_ip_black_holed(cloud: LocalCloud) -> None:
    broken, count = re.subn(r"aws ec2 associate-address[^\n]*\\\n[^\n]*\n", "false\n", TEMPLATE.read_text())
    assert count == 1
    outputs = create(cloud, "broken", broken)
    iid = group_instance(cloud, outputs["AutoScalingGroupName"])

    finished = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=90)

    assert finished.detail["code"] != 0
    assert connect_outcome(outputs["PublicIp"]) == "hangs"


def test_delete_stack_removes_what_moto_leaves_behind(cloud: LocalCloud) -> None:
    outputs = create(cloud, "gone", TEMPLATE.read_text())
    cloud.events.wait_for("localcloud.eip.routed", outputs["PublicIp"], timeout=90)
    ec2, route53 = cloud.client("ec2"), cloud.client("route53")

    cloud.client("cloudformation").delete_stack(StackName="gone")

    assert not ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [outputs["PublicIp"]]}])["Addresses"]
    assert outputs["ZoneId"] not in {z["Id"].rsplit("/", 1)[-1] for z in route53.list_hosted_zones()["HostedZones"]}
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.42.0.0/16"]}])["Vpcs"]
    stacks_vpcs = [v for v in vpcs if any(t["Key"] == "Name" and t["Value"] == "gone-vpc" for t in v.get("Tags", []))]
    assert not stacks_vpcs
    assert cloud.events.wait_for("localcloud.eip.released", outputs["PublicIp"], timeout=5)
    assert connect_outcome(outputs["PublicIp"]) == "hangs"


def test_an_eip_association_resource_type_added_by_localcloud(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    template = f"""
Resources:
  Ip: {{Type: AWS::EC2::EIP, Properties: {{Domain: vpc}}}}
  Assoc:
    Type: AWS::EC2::EIPAssociation
    Properties: {{AllocationId: !GetAtt Ip.AllocationId, InstanceId: {iid}}}
Outputs:
  Ip: {{Value: !Ref Ip}}
  Assoc: {{Value: !Ref Assoc}}
"""
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="assoc", TemplateBody=template)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="assoc")["Stacks"][0]["Outputs"]}
    address = ec2.describe_addresses(PublicIps=[outputs["Ip"]])["Addresses"][0]
    cfn.delete_stack(StackName="assoc")

    assert (address["InstanceId"], address["AssociationId"]) == (iid, outputs["Assoc"])
    assert cloud.events.find("localcloud.eip.associated", outputs["Ip"])[0].detail["instance"] == iid
    assert not ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [outputs["Ip"]]}])["Addresses"]
