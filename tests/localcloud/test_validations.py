"""AWS's create-time validations on localcloud: the API answers AWS's error, and a stack with the same
resource fails it (CREATE_FAILED with the service's message), rolls back, and gameday's deploy says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gameday.errors import DeployError
from gameday.stacks import StackSpec, deploy
from localcloud import LocalCloud
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

GROUP_SIZES = "Max bound, 0, must be greater than or equal to min bound, 1"
DESIRED = "Desired capacity:3 must be between the specified min size:1 and max size:2"
INTERVAL = ("1 validation error detected: Value '600' at 'healthCheckIntervalSeconds' failed to satisfy "
            "constraint: Member must have value less than or equal to 300")
THRESHOLD = ("1 validation error detected: Value '11' at 'healthCheckConfig.failureThreshold' failed to satisfy "
             "constraint: Member must have value less than or equal to 10")
REQUEST_INTERVAL = "Invalid parameter : RequestInterval must be 10 or 30, not 20"
TIMEOUT = ("1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
           "Member must have value less than or equal to 900")

NETWORK = """
  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.70.0.0/16}}
  Subnet: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.70.1.0/24, AvailabilityZone: us-east-1a}}
"""
GROUP = """
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties: {{LaunchTemplateData: {{ImageId: ami-12c6146b, InstanceType: t3.micro}}}}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "1"
      MaxSize: "{max}"
      DesiredCapacity: "{desired}"
      VPCZoneIdentifier: [!Ref Subnet]
      LaunchTemplate: {{LaunchTemplateId: !Ref Template, Version: !GetAtt Template.LatestVersionNumber}}
"""
TARGET_GROUP = """
  Targets:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {VpcId: !Ref Vpc, Port: 80, Protocol: HTTP, HealthCheckIntervalSeconds: 600}
"""
HEALTH_CHECK = """
  Check:
    Type: AWS::Route53::HealthCheck
    Properties:
      HealthCheckConfig: {Type: HTTP, IPAddress: 192.0.2.10, Port: 80, ResourcePath: /, FailureThreshold: 11}
"""
FUNCTION = """
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Timeout: 901
      Code: {ZipFile: "def handler(event, context): return 1"}
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=15, services=[]) as running:
        yield running


def refusal(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as refused:
        call()
    error, meta = refused.value.response["Error"], refused.value.response["ResponseMetadata"]
    return error["Code"], error["Message"], meta["HTTPStatusCode"]


@pytest.fixture(scope="module")
def network(cloud: LocalCloud) -> dict[str, str]:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.71.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    template = ec2.create_launch_template(LaunchTemplateName="validations", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})["LaunchTemplate"]
    return {"vpc": vpc, "subnet": subnet["SubnetId"], "template": template["LaunchTemplateId"]}


def create_group(cloud: LocalCloud, network: dict[str, str], name: str, low: int, high: int,
                 desired: int) -> None:
    cloud.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=low, MaxSize=high, DesiredCapacity=desired,
        VPCZoneIdentifier=network["subnet"], LaunchTemplate={"LaunchTemplateId": network["template"]})


def test_a_group_whose_sizes_aws_refuses_is_refused_by_the_api(cloud: LocalCloud, network: dict[str, str]) -> None:
    autoscaling = cloud.client("autoscaling")

    assert refusal(lambda: create_group(cloud, network, "upside-down", 1, 0, 1)) == \
        ("ValidationError", GROUP_SIZES, 400)
    assert refusal(lambda: create_group(cloud, network, "too-many", 1, 2, 3)) == ("ValidationError", DESIRED, 400)
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["upside-down", "too-many"])[
        "AutoScalingGroups"] == []

    create_group(cloud, network, "sized", 0, 2, 0)
    assert refusal(lambda: autoscaling.update_auto_scaling_group(AutoScalingGroupName="sized", MinSize=1,
                                                                 DesiredCapacity=3)) == \
        ("ValidationError", DESIRED, 400)
    assert refusal(lambda: autoscaling.set_desired_capacity(AutoScalingGroupName="sized", DesiredCapacity=5)) == \
        ("ValidationError", "New SetDesiredCapacity value 5 is above max value 2 for the AutoScalingGroup.", 400)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="sized", MaxSize=1)  # a valid update still works
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["sized"])["AutoScalingGroups"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 1, 0)
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="sized", ForceDelete=True)


def test_health_checks_and_functions_aws_refuses_are_refused_by_the_api(cloud: LocalCloud,
                                                                        network: dict[str, str]) -> None:
    elbv2, route53 = cloud.client("elbv2"), cloud.client("route53")

    assert refusal(lambda: elbv2.create_target_group(Name="slow", Protocol="HTTP", Port=80, VpcId=network["vpc"],
                                                     HealthCheckIntervalSeconds=600)) == \
        ("ValidationError", INTERVAL, 400)
    arn = elbv2.create_target_group(Name="fine", Protocol="HTTP", Port=80, VpcId=network["vpc"])[
        "TargetGroups"][0]["TargetGroupArn"]
    code, message, _ = refusal(lambda: elbv2.modify_target_group(TargetGroupArn=arn, HealthyThresholdCount=11,
                                                                 UnhealthyThresholdCount=12))
    assert (code, message.split(":")[0]) == ("ValidationError", "2 validation errors detected")
    assert "Value '12' at 'unhealthyThresholdCount'" in message

    config = {"Type": "HTTP", "IPAddress": "192.0.2.10", "Port": 80, "ResourcePath": "/"}
    assert refusal(lambda: route53.create_health_check(CallerReference="a", HealthCheckConfig={
        **config, "FailureThreshold": 11})) == ("InvalidInput", THRESHOLD, 400)
    assert refusal(lambda: route53.create_health_check(CallerReference="b", HealthCheckConfig={
        **config, "RequestInterval": 20})) == ("InvalidInput", REQUEST_INTERVAL, 400)

    role = cloud.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    assert refusal(lambda: cloud.client("lambda").create_function(
        FunctionName="long", Runtime="python3.12", Handler="index.handler", Role=role, Timeout=901,
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)})) == ("ValidationException", TIMEOUT, 400)


@pytest.mark.parametrize(("name", "resources", "failed", "says"), [
    ("sizes", NETWORK + GROUP.format(max=0, desired=1), "Group", f"{GROUP_SIZES} (Service: AmazonAutoScaling; "
                                                                 "Status Code: 400; Error Code: ValidationError;"),
    ("desired", NETWORK + GROUP.format(max=2, desired=3), "Group", DESIRED),
    ("interval", NETWORK + TARGET_GROUP, "Targets", f"{INTERVAL} (Service: AmazonElasticLoadBalancingV2;"),
    ("threshold", HEALTH_CHECK, "Check", f"{THRESHOLD} (Service: AmazonRoute53; Status Code: 400; "
                                         "Error Code: InvalidInput;"),
    ("timeout", FUNCTION, "Function", f"{TIMEOUT} (Service: AWSLambda; Status Code: 400; "
                                      "Error Code: ValidationException;"),
])
def test_a_stack_with_a_resource_aws_refuses_fails_and_rolls_back(cloud: LocalCloud, name: str, resources: str,
                                                                 failed: str, says: str) -> None:
    cfn = cloud.client("cloudformation")

    stack_id = cfn.create_stack(StackName=f"refused-{name}", TemplateBody="Resources:" + resources,
                                Capabilities=["CAPABILITY_IAM"])["StackId"]

    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    [failure] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert (failure["LogicalResourceId"], failure["ResourceStatusReason"][:len(says)]) == (failed, says)
    assert any(e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS" and f"failed to create: [{failed}]"
               in e.get("ResourceStatusReason", "") for e in events)
    assert cfn.list_stack_resources(StackName=stack_id)["StackResourceSummaries"] == []  # what was made is gone
    cfn.delete_stack(StackName=stack_id)


def test_a_rolled_back_stack_leaves_nothing_behind(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    before = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}

    cloud.client("cloudformation").create_stack(StackName="refused-leftovers",
                                                TemplateBody="Resources:" + NETWORK + GROUP.format(max=0, desired=1))

    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == before
    assert not [t for t in ec2.describe_launch_templates()["LaunchTemplates"]
                if t["LaunchTemplateName"].startswith("refused-leftovers")]


def test_gameday_deploy_fails_with_the_services_message(cloud: LocalCloud, tmp_path: Path) -> None:
    """gameday deploys with OnFailure DELETE: the stack is deleted, and the deploy error names the resource and
    carries the service's message."""
    template = tmp_path / "template.yaml"
    template.write_text("Resources:" + NETWORK + GROUP.format(max=0, desired=1))
    backend = SimpleNamespace(client=cloud.client, endpoint_url=cloud.endpoint_url, region=cloud.region)

    with pytest.raises(DeployError) as failed:
        deploy(backend, StackSpec("validations", template_path=template), "t15")  # type: ignore[arg-type]

    message = str(failed.value)
    assert f"Group: {GROUP_SIZES} (Service: AmazonAutoScaling" in message, message
    assert "\n" not in message
    live = cloud.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "ROLLBACK_COMPLETE"])
    assert not [s for s in live["StackSummaries"] if s["StackName"].endswith("-validations")]


RECORD = """
  Zone: {{Type: AWS::Route53::HostedZone, Properties: {{Name: valid.gameday.test}}}}
  Record:
    Type: AWS::Route53::RecordSet
    Properties: {{HostedZoneId: !Ref Zone, Name: "{name}", Type: {kind}, TTL: "60", ResourceRecords: ["{value}"]}}
"""
OUTSIDE = "RRSet with DNS name app.valid.gameday.testx. is not permitted in zone valid.gameday.test."
NOT_IPV4 = ("[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 "
            "address) encountered with 'not-an-ip'']")
APEX = "RRSet of type CNAME with DNS name valid.gameday.test. is not permitted at apex in zone valid.gameday.test."


@pytest.mark.parametrize(("name", "kind", "value", "says"), [
    ("app.valid.gameday.testx", "A", "192.0.2.1", OUTSIDE),  # a typo past the zone's last label
    ("app.valid.gameday.test", "A", "not-an-ip", NOT_IPV4),
    ("app.valid.gameday.test", "AAAA", "192.0.2.1", "AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6"),
    ("valid.gameday.test", "CNAME", "elsewhere.example.test", APEX),
])
def test_record_sets_route53_refuses_fail_the_api_and_the_stack(cloud: LocalCloud, name: str, kind: str,
                                                               value: str, says: str) -> None:
    route53, cfn = cloud.client("route53"), cloud.client("cloudformation")
    zone = route53.create_hosted_zone(Name="valid.gameday.test", CallerReference=f"api-{name}-{kind}")[
        "HostedZone"]["Id"]
    code, message, status = refusal(lambda: route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 60,
                                                               "ResourceRecords": [{"Value": value}]}}]}))
    assert (code, status) == ("InvalidChangeBatch", 400) and says in message
    route53.delete_hosted_zone(Id=zone)

    stack_id = cfn.create_stack(StackName=f"refused-record-{kind.lower()}-{len(name)}",
                                TemplateBody="Resources:" + RECORD.format(name=name, kind=kind, value=value))["StackId"]
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    [failure] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failure["LogicalResourceId"] == "Record" and says in failure["ResourceStatusReason"]
    cfn.delete_stack(StackName=stack_id)


def test_record_sets_route53_accepts_still_deploy(cloud: LocalCloud) -> None:
    route53 = cloud.client("route53")
    zone = route53.create_hosted_zone(Name="fine.gameday.test", CallerReference="fine")["HostedZone"]["Id"]
    changes = [{"Action": "UPSERT", "ResourceRecordSet": r} for r in (
        {"Name": "fine.gameday.test", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]},
        {"Name": "v6.fine.gameday.test.", "Type": "AAAA", "TTL": 60, "ResourceRecords": [{"Value": "2001:db8::1"}]},
        {"Name": "www.fine.gameday.test", "Type": "CNAME", "TTL": 60,
         "ResourceRecords": [{"Value": "fine.gameday.test"}]},
        {"Name": "txt.fine.gameday.test", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"any text"'}]})]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    names = {r["Name"] for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]}
    assert {"fine.gameday.test.", "v6.fine.gameday.test.", "txt.fine.gameday.test."} <= names


@pytest.mark.parametrize("on_failure", ["ROLLBACK", "DELETE"])
def test_a_failed_stack_is_described_without_outputs(cloud: LocalCloud, on_failure: str) -> None:
    """Outputs naming resources the rollback deleted must not break DescribeStacks (the waiter's poll)."""
    cfn = cloud.client("cloudformation")
    body = ("Resources:" + NETWORK + GROUP.format(max=0, desired=1)
            + "Outputs:\n  VpcId: {Value: !Ref Vpc}\n  GroupName: {Value: !Ref Group}\n")

    stack_id = cfn.create_stack(StackName=f"refused-outputs-{on_failure.lower()}", TemplateBody=body,
                                OnFailure=on_failure)["StackId"]

    [stack] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert stack["StackStatus"] == f"{on_failure}_COMPLETE" and "Outputs" not in stack
