"""Launch lifecycle hooks on localcloud: Pending:Wait, SNS -> Lambda completing the action, timeouts, API errors."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).with_name("templates") / "lifecycle_hook.yaml"
HOOK = "publish-origin"
# The tiny profile is realistic x 0.01: a template's HeartbeatTimeout of 100 s waits 1 s here.
HEARTBEAT_100_S = 1.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=5) as running:
        yield running


def create(cloud: LocalCloud, name: str, **parameters: str) -> dict[str, str]:
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def members(cloud: LocalCloud, group: str) -> dict[str, str]:
    found = cloud.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}


def aaaa(cloud: LocalCloud, zone_id: str) -> list[str]:
    records = cloud.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [r["ResourceRecords"][0]["Value"] for r in records if r["Type"] == "AAAA"]


def test_the_hook_holds_the_instance_until_the_lambda_upserts_the_record_and_completes(cloud: LocalCloud) -> None:
    mark = len(cloud.events)
    out = create(cloud, "cont")
    (instance, state), = members(cloud, out["GroupName"]).items()

    done = cloud.events.wait_for("localcloud.asg.lifecycle_complete", instance, since=mark, timeout=60)
    result = cloud.events.wait_for("localcloud.lambda.result", out["FunctionName"], since=mark, timeout=60)
    wait = cloud.events.find("localcloud.asg.lifecycle_wait", instance, since=mark)[0]
    invoke = cloud.events.find("localcloud.lambda.invoke", out["FunctionName"], since=mark)[0]
    hook = cloud.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=out["GroupName"])
    address = cloud.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]

    assert state == "Pending:Wait"
    assert wait.seq < invoke.seq < done.seq
    assert (done.detail["result"], done.detail["by"], done.detail["hook"]) == ("CONTINUE", "api", HOOK)
    assert result.detail["error"] is None, result.detail["log"]
    assert f"hook {HOOK} for {instance} metadata cont" in result.detail["log"]
    assert members(cloud, out["GroupName"]) == {instance: "InService"}
    assert aaaa(cloud, out["ZoneId"]) == ["::ffff:" + address["PrivateIpAddress"]]
    assert hook["LifecycleHooks"][0] | {"RoleARN": "-"} == {
        "LifecycleHookName": HOOK, "AutoScalingGroupName": out["GroupName"],
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING", "NotificationTargetARN": out["TopicArn"],
        "RoleARN": "-", "NotificationMetadata": "cont", "HeartbeatTimeout": 600, "GlobalTimeout": 172800,
        "DefaultResult": "ABANDON"}


def test_a_handler_that_never_completes_times_out_to_abandon_and_the_group_replaces_it(cloud: LocalCloud) -> None:
    mark = len(cloud.events)
    out = create(cloud, "abandon", Complete="no", HeartbeatTimeout="100")
    (first, _), = members(cloud, out["GroupName"]).items()

    done = cloud.events.wait_for("localcloud.asg.lifecycle_complete", first, since=mark, timeout=60)
    gone = cloud.events.wait_for("localcloud.instance.terminated", first, since=mark, timeout=30)
    replaced = cloud.events.wait_for("localcloud.asg.launch", since=gone.seq, timeout=30,
                                     where=lambda e: e.detail["asg"] == out["GroupName"])
    second = replaced.subject
    cloud.events.wait_for("localcloud.asg.lifecycle_wait", second, since=mark, timeout=30)
    waiting = members(cloud, out["GroupName"])
    cloud.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=out["GroupName"],
                                                          ForceDelete=True)  # or it abandons every replacement

    assert (done.detail["result"], done.detail["by"]) == ("ABANDON", "timeout")
    assert done.detail["waited_s"] >= HEARTBEAT_100_S - 0.05
    assert second != first and waiting == {second: "Pending:Wait"}
    assert cloud.events.find("localcloud.lambda.result", out["FunctionName"], since=mark)[0].detail["error"] is None


def test_a_heartbeat_restarts_the_timeout_and_continue_is_the_default_result_applied(cloud: LocalCloud) -> None:
    autoscaling, group = cloud.client("autoscaling"), "api-group"
    template = cloud.client("ec2").create_launch_template(
        LaunchTemplateName="api-lt", LaunchTemplateData={"ImageId": "ami-12345678"})["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=group, MinSize=0, MaxSize=1, DesiredCapacity=0,
                                          AvailabilityZones=["us-east-1a"],
                                          LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]})
    autoscaling.put_lifecycle_hook(LifecycleHookName="wait", AutoScalingGroupName=group, HeartbeatTimeout=100,
                                   LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", DefaultResult="CONTINUE")
    mark = len(cloud.events)

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    wait = cloud.events.wait_for("localcloud.asg.lifecycle_wait", since=mark, timeout=10,
                                 where=lambda e: e.detail["asg"] == group)
    instance = wait.subject
    cloud.events.wait_for("localcloud.instance.booted", instance, since=mark, timeout=10)  # ~0.6 s in
    autoscaling.record_lifecycle_action_heartbeat(LifecycleHookName="wait", AutoScalingGroupName=group,
                                                  InstanceId=instance)
    done = cloud.events.wait_for("localcloud.asg.lifecycle_complete", instance, since=mark, timeout=10)

    assert wait.detail["timeout_s"] == pytest.approx(HEARTBEAT_100_S)
    assert cloud.events.find("localcloud.asg.lifecycle_heartbeat", instance, since=mark)
    assert (done.detail["result"], done.detail["by"]) == ("CONTINUE", "timeout")
    assert done.detail["waited_s"] >= 0.5 + HEARTBEAT_100_S
    assert members(cloud, group) == {instance: "InService"}


def test_unknown_actions_and_results_are_validation_errors(cloud: LocalCloud) -> None:
    autoscaling = cloud.client("autoscaling")
    calls: list[Any] = [
        lambda: autoscaling.complete_lifecycle_action(LifecycleHookName="h", AutoScalingGroupName="g",
                                                      LifecycleActionToken=str(uuid.uuid4()),
                                                      LifecycleActionResult="CONTINUE"),
        lambda: autoscaling.record_lifecycle_action_heartbeat(LifecycleHookName="h", AutoScalingGroupName="g",
                                                              InstanceId="i-0123456789abcdef0"),
        lambda: autoscaling.complete_lifecycle_action(LifecycleHookName="h", AutoScalingGroupName="g",
                                                      InstanceId="i-0123456789abcdef0", LifecycleActionResult="MAYBE"),
    ]
    errors = []
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        errors.append((caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]))

    assert [code for code, _ in errors] == ["ValidationError"] * 3
    assert "No active Lifecycle Action found with token" in errors[0][1]
    assert "No active Lifecycle Action found with instance ID i-0123456789abcdef0" in errors[1][1]
    assert "CONTINUE" in errors[2][1]


HANDLER = """
import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    print("got", event)
    return {"echo": event, "mode": os.environ["MODE"], "name": context.function_name}
"""


def test_invoke_runs_the_handler_request_response_and_event(cloud: LocalCloud) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", HANDLER)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = cloud.client("iam").create_role(RoleName="echo", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    lam = cloud.client("lambda")
    lam.create_function(FunctionName="echo", Runtime="python3.12", Handler="app.handler", Timeout=20,
                        Role=role["Arn"], Code={"ZipFile": package.getvalue()},
                        Environment={"Variables": {"MODE": "test"}})
    mark = len(cloud.events)

    ok = lam.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}), LogType="Tail")
    failed = lam.invoke(FunctionName="echo", Payload=json.dumps({"fail": True}))
    queued = lam.invoke(FunctionName="echo", Payload=json.dumps({"b": 2}), InvocationType="Event")
    later = cloud.events.wait_for("localcloud.lambda.result", "echo", since=mark, timeout=30,
                                  where=lambda e: e.detail["source"] == "event")

    assert json.loads(ok["Payload"].read()) == {"echo": {"a": 1}, "mode": "test", "name": "echo"}
    assert "FunctionError" not in ok and "got {'a': 1}" in base64.b64decode(ok["LogResult"]).decode()
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "asked to fail"
    assert queued["StatusCode"] == 202
    assert later.detail["error"] is None and "got {'b': 2}" in later.detail["log"]


SEPARATE_HOOK = """
Resources:
  Queue: {Type: AWS::SQS::Queue}
  Topic: {Type: AWS::SNS::Topic}
  ToQueue:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: sqs, Endpoint: !GetAtt Queue.Arn, RawMessageDelivery: true}
  Template:
    Type: AWS::EC2::LaunchTemplate
    Properties: {LaunchTemplateData: {ImageId: ami-12345678}}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: "0"
      MaxSize: "1"
      AvailabilityZones: [us-east-1a]
      LaunchTemplate: {LaunchTemplateId: !Ref Template, Version: !GetAtt Template.LatestVersionNumber}
  Hook:
    Type: AWS::AutoScaling::LifecycleHook
    Properties:
      AutoScalingGroupName: !Ref Group
      LifecycleTransition: autoscaling:EC2_INSTANCE_LAUNCHING
      NotificationTargetARN: !GetAtt Queue.Arn
      DefaultResult: CONTINUE
Outputs:
  Group: {Value: !Ref Group}
  Hook: {Value: !Ref Hook}
  Queue: {Value: !Ref Queue}
"""


def test_a_separate_hook_resource_notifies_its_queue_and_delete_stack_removes_hook_and_subscription(
        cloud: LocalCloud) -> None:
    cfn, autoscaling, sqs = cloud.client("cloudformation"), cloud.client("autoscaling"), cloud.client("sqs")
    cfn.create_stack(StackName="separate", TemplateBody=SEPARATE_HOOK)
    out = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="separate")["Stacks"][0]["Outputs"]}
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=out["Group"])["LifecycleHooks"]
    subscriptions = [s["Protocol"] for s in cloud.client("sns").list_subscriptions()["Subscriptions"]]

    autoscaling.set_desired_capacity(AutoScalingGroupName=out["Group"], DesiredCapacity=1)
    (instance, state), = members(cloud, out["Group"]).items()
    received = sqs.receive_message(QueueUrl=out["Queue"], WaitTimeSeconds=5)["Messages"]
    message = json.loads(received[0]["Body"])
    autoscaling.complete_lifecycle_action(LifecycleHookName=out["Hook"], AutoScalingGroupName=out["Group"],
                                          LifecycleActionToken=message["LifecycleActionToken"],
                                          LifecycleActionResult="CONTINUE")
    after = members(cloud, out["Group"])
    cfn.delete_stack(StackName="separate")

    assert [h["LifecycleHookName"] for h in hooks] == [out["Hook"]] and "sqs" in subscriptions
    assert state == "Pending:Wait" and after == {instance: "InService"}
    assert {k: message[k] for k in ("Service", "EC2InstanceId", "AutoScalingGroupName", "LifecycleTransition")} == {
        "Service": "AWS Auto Scaling", "EC2InstanceId": instance, "AutoScalingGroupName": out["Group"],
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"}
    assert "sqs" not in [s["Protocol"] for s in cloud.client("sns").list_subscriptions()["Subscriptions"]]
