"""The eip-self-healing reference stack under IAM: its instance role's policy decides whether the bootstrap claims the
address. The reference policy associates; a policy one action short, scoped to the wrong allocation, or with an
explicit Deny fails the bootstrap with EC2's UnauthorizedOperation in the console output, as on AWS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.cloud import ACCOUNT_ID
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

TEMPLATE = (Path(__file__).resolve().parents[2] / "stacks" / "eip-self-healing" / "template.yaml").read_text()
ASSOCIATE_LINE = "An error occurred (UnauthorizedOperation) when calling the AssociateAddress operation: " \
                 "You are not authorized to perform this operation. User: "


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=3, userdata_timeout_s=120) as running:
        yield running


def mutated(pattern: str, replacement: str, count: int) -> str:
    text, found = re.subn(pattern, replacement, TEMPLATE)
    assert found == count, f"the reference template changed: {pattern!r} found {found} times, not {count}"
    return text


def one_action_short() -> str:
    return mutated(r"Action: ec2:AssociateAddress\n", "Action: ec2:DescribeAddresses\n", 2)


def wrong_allocation() -> str:
    return mutated(r"elastic-ip/\$\{ElasticIp\.AllocationId\}", "elastic-ip/eipalloc-0123456789abcdef0", 1)


def explicit_deny() -> str:
    deny = ("              - Effect: Deny\n                Action: ec2:AssociateAddress\n"
            "                Resource: \"*\"\n")
    return mutated(r"(            Statement:\n)(              - Effect: Allow\n                Action: ec2:Associate)",
                   rf"\g<1>{deny}\g<2>", 1)


def deploy(cloud: LocalCloud, name: str, template: str) -> tuple[str, str, str]:
    """(allocation id, instance id, console output once the user data has exited)."""
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "ZoneName", "ParameterValue": f"{name}.gameday.test"}])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    group = cloud.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[
        outputs["AutoScalingGroupName"]])["AutoScalingGroups"][0]
    iid = group["Instances"][0]["InstanceId"]
    cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=90)
    address = cloud.client("ec2").describe_addresses(PublicIps=[outputs["PublicIp"]])["Addresses"][0]
    return address["AllocationId"], iid, cloud.console_output(iid) or ""


def test_the_reference_policy_lets_the_bootstrap_claim_its_address(cloud: LocalCloud) -> None:
    allocation, iid, console = deploy(cloud, "good", TEMPLATE)

    address = cloud.client("ec2").describe_addresses(AllocationIds=[allocation])["Addresses"][0]
    assert address.get("InstanceId") == iid, console
    assert cloud.events.find("localcloud.userdata.exit", iid)[0].detail["code"] == 0
    assert not cloud.events.find("localcloud.iam.denied", iid)


@pytest.mark.parametrize(("name", "template", "reason"), [
    ("short", one_action_short, "because no identity-based policy allows the ec2:AssociateAddress action"),
    ("scoped", wrong_allocation, "because no identity-based policy allows the ec2:AssociateAddress action"),
    ("denied", explicit_deny, "with an explicit deny in an identity-based policy"),
])
def test_a_broken_policy_fails_the_bootstrap_with_unauthorized_operation(cloud: LocalCloud, name: str,
                                                                         template: object, reason: str) -> None:
    assert callable(template)
    allocation, iid, console = deploy(cloud, name, template())

    resource = f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:elastic-ip/{allocation}"
    expected = (f"{ASSOCIATE_LINE}arn:aws:sts::{ACCOUNT_ID}:assumed-role/{name}-InstanceRole-")
    line = next((x for x in console.splitlines() if x.startswith(expected)), None)
    assert line is not None, console
    assert line.endswith(f"/{iid} is not authorized to perform: ec2:AssociateAddress on resource: {resource} {reason}")
    assert cloud.events.find("localcloud.userdata.exit", iid)[0].detail["code"] != 0
    assert not cloud.client("ec2").describe_addresses(AllocationIds=[allocation])["Addresses"][0].get("InstanceId")
    assert not [e for e in cloud.events.find("localcloud.eip.associated") if e.detail.get("instance") == iid]
    denial = cloud.events.find("localcloud.iam.denied", iid)[0]
    assert (denial.detail["action"], denial.detail["resource"]) == ("ec2:AssociateAddress", resource)
