"""Lifecycle hooks on localcloud: Pending:Wait and Terminating:Wait, SNS -> Lambda completing the action, timeouts,
API errors; which member a scale-in terminates."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.events import CloudEvent
from tests.localcloud.support import http_get, tiny_profile

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).with_name("templates") / "lifecycle_hook.yaml"
HOOK = "publish-origin"
RELEASE = "release-origin"  # the template's terminating hook
LAUNCHING, TERMINATING = "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
# The tiny profile is realistic x 0.01: a template's HeartbeatTimeout of 100 s waits 1 s here.
HEARTBEAT_100_S = 1.0
# The held member's hook: 7200 s (72 s here) outlasts the replacement's launch and the Lambda's run on a busy machine,
# so the action is still waiting when the test completes it.
HOLD_HEARTBEAT = "7200"
HEARTBEAT_7200_S = 72.0


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


def private_address(cloud: LocalCloud, instance: str) -> str:
    found = cloud.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return str(found["PrivateIpAddress"])


def ec2_state(cloud: LocalCloud, instance: str) -> str:
    found = cloud.client("ec2").describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return str(found["State"]["Name"])


def transition(wanted: str) -> Callable[[CloudEvent], bool]:
    return lambda event: event.detail["transition"] == wanted


def logged(needle: str) -> Callable[[CloudEvent], bool]:
    return lambda event: needle in event.detail["log"]


def in_group(group: str) -> Callable[[CloudEvent], bool]:
    return lambda event: event.detail["asg"] == group


def eventually(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """What `fetch` returns once `done` holds (the group lets a member go in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def launched(cloud: LocalCloud, out: dict[str, str], mark: int) -> str:
    """The group's one member, once the Lambda has completed its launch hook and returned."""
    (instance, _), = members(cloud, out["GroupName"]).items()
    cloud.events.wait_for("localcloud.asg.lifecycle_complete", instance, since=mark, timeout=60)
    cloud.events.wait_for("localcloud.lambda.result", out["FunctionName"], since=mark, timeout=60)
    cloud.events.wait_for("localcloud.instance.booted", instance, since=mark, timeout=30)
    return instance


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


def test_a_terminating_hook_holds_the_member_serving_while_its_replacement_launches(cloud: LocalCloud) -> None:
    mark = len(cloud.events)
    out = create(cloud, "hold", WithTerminatingHook="yes", CompleteTerminating="no", TerminatingTimeout=HOLD_HEARTBEAT)
    group, first = out["GroupName"], launched(cloud, out, mark)
    mark = len(cloud.events)

    cloud.client("autoscaling").terminate_instance_in_auto_scaling_group(InstanceId=first,
                                                                         ShouldDecrementDesiredCapacity=False)
    held = cloud.client("autoscaling").describe_auto_scaling_instances(InstanceIds=[first])["AutoScalingInstances"]
    wait = cloud.events.wait_for("localcloud.asg.lifecycle_wait", first, since=mark, timeout=10,
                                 where=transition(TERMINATING))
    notified = cloud.events.wait_for("localcloud.lambda.result", out["FunctionName"], since=mark, timeout=60,
                                     where=logged(f"terminating hook {RELEASE} for {first}"))
    replacement = cloud.events.wait_for("localcloud.asg.launch", since=mark, timeout=10, where=in_group(group))
    cloud.events.wait_for("localcloud.asg.lifecycle_complete", replacement.subject, since=mark, timeout=60)
    while_waiting = members(cloud, group)
    served_by = http_get(private_address(cloud, first))[1]["x-served-by"]
    running = ec2_state(cloud, first)
    cloud.client("autoscaling").complete_lifecycle_action(LifecycleHookName=RELEASE, AutoScalingGroupName=group,
                                                          InstanceId=first, LifecycleActionResult="CONTINUE")
    gone = cloud.events.wait_for("localcloud.instance.terminated", first, since=mark, timeout=10)
    done = cloud.events.find("localcloud.asg.lifecycle_complete", first, since=mark)[0]

    assert held[0]["LifecycleState"] == "Terminating:Wait"
    assert (wait.detail["hook"], wait.detail["timeout_s"]) == (RELEASE, pytest.approx(HEARTBEAT_7200_S))
    assert notified.detail["error"] is None, notified.detail["log"]
    assert while_waiting == {first: "Terminating:Wait", replacement.subject: "InService"}
    assert served_by == first and running == "running"
    assert (done.detail["transition"], done.detail["result"], done.detail["by"]) == (TERMINATING, "CONTINUE", "api")
    assert wait.seq < replacement.seq < done.seq < gone.seq  # the replacement launched while the member waited
    assert members(cloud, group) == {replacement.subject: "InService"}


def test_a_handler_that_completes_withdraws_the_record_and_the_member_terminates_without_replacement(
        cloud: LocalCloud) -> None:
    mark = len(cloud.events)
    out = create(cloud, "release", WithTerminatingHook="yes", MinSize="0")
    group, first = out["GroupName"], launched(cloud, out, mark)
    published = aaaa(cloud, out["ZoneId"])
    mark = len(cloud.events)

    activity = cloud.client("autoscaling").terminate_instance_in_auto_scaling_group(
        InstanceId=first, ShouldDecrementDesiredCapacity=True)["Activity"]
    gone = cloud.events.wait_for("localcloud.instance.terminated", first, since=mark, timeout=60)
    done = cloud.events.find("localcloud.asg.lifecycle_complete", first, since=mark)[0]
    result = cloud.events.wait_for("localcloud.lambda.result", out["FunctionName"], since=mark, timeout=30,
                                   where=logged(f"terminating hook {RELEASE} for {first}"))
    found = cloud.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]

    assert published == ["::ffff:" + private_address(cloud, first)]
    assert "shrinking the capacity from 1 to 0" in activity["Cause"]
    assert (done.detail["transition"], done.detail["result"], done.detail["by"]) == (TERMINATING, "CONTINUE", "api")
    assert done.seq < gone.seq and result.detail["error"] is None
    assert "withdrew" in result.detail["log"] and aaaa(cloud, out["ZoneId"]) == []
    assert (found[0]["DesiredCapacity"], found[0]["Instances"]) == (0, [])
    assert not cloud.events.find("localcloud.asg.launch", since=mark)


def test_an_instance_gone_unhealthy_waits_on_the_terminating_hook_until_its_timeout(cloud: LocalCloud) -> None:
    mark = len(cloud.events)
    # 300 s (3 s here): the member is still held when the test looks, on a busy machine too.
    out = create(cloud, "timeout", WithTerminatingHook="yes", CompleteTerminating="no", TerminatingTimeout="300",
                 TerminatingResult="ABANDON")
    group, first = out["GroupName"], launched(cloud, out, mark)
    mark = len(cloud.events)

    cloud.client("ec2").terminate_instances(InstanceIds=[first])
    unhealthy = cloud.events.wait_for("localcloud.asg.unhealthy", first, since=mark, timeout=10)
    wait = cloud.events.wait_for("localcloud.asg.lifecycle_wait", first, since=mark, timeout=10,
                                 where=transition(TERMINATING))
    held = members(cloud, group)[first]
    replacement = cloud.events.wait_for("localcloud.asg.launch", since=mark, timeout=10, where=in_group(group))
    done = cloud.events.wait_for("localcloud.asg.lifecycle_complete", first, since=mark, timeout=10,
                                 where=transition(TERMINATING))
    after = eventually(lambda: members(cloud, group), lambda found: first not in found)

    assert unhealthy.seq < wait.seq < replacement.seq < done.seq
    assert held == "Terminating:Wait"
    assert (done.detail["result"], done.detail["by"]) == ("ABANDON", "timeout")
    assert done.detail["waited_s"] >= 3 * HEARTBEAT_100_S - 0.05
    assert list(after) == [replacement.subject]
    # The handler notified of the hook is a process of its own: on a busy machine it may end after the timeout.
    assert cloud.events.wait_for("localcloud.lambda.result", out["FunctionName"], since=mark, timeout=30)


def api_group(cloud: LocalCloud, name: str, *, terminating_hook: dict[str, Any] | None = None,
              desired: int = 1, **settings: Any) -> None:
    autoscaling = cloud.client("autoscaling")
    template = cloud.client("ec2").create_launch_template(
        LaunchTemplateName=f"{name}-lt", LaunchTemplateData={"ImageId": "ami-12345678"})["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=3, DesiredCapacity=desired,
                                          AvailabilityZones=["us-east-1a"],
                                          LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]},
                                          **settings)
    if terminating_hook is not None:
        autoscaling.put_lifecycle_hook(LifecycleHookName="drain", AutoScalingGroupName=name,
                                       LifecycleTransition=TERMINATING, **terminating_hook)


@pytest.mark.parametrize(("policy", "leaving"), [("NewestInstance", 1), ("OldestInstance", 0)])
def test_scale_in_terminates_the_member_the_termination_policy_names_after_its_hook(
        cloud: LocalCloud, policy: str, leaving: int) -> None:
    autoscaling, group = cloud.client("autoscaling"), f"scale-in-{policy}"
    api_group(cloud, group, terminating_hook={"HeartbeatTimeout": 100, "DefaultResult": "CONTINUE"})
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group, TerminationPolicies=[policy])
    (first, _), = members(cloud, group).items()
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    (second, _), = ((i, s) for i, s in members(cloud, group).items() if i != first)
    victim, survivor = (first, second) if leaving == 0 else (second, first)
    mark = len(cloud.events)

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    held = members(cloud, group)
    chosen = cloud.events.wait_for("localcloud.asg.terminate", since=mark, timeout=5, where=in_group(group))
    gone = cloud.events.wait_for("localcloud.instance.terminated", victim, since=mark, timeout=10)
    done = cloud.events.find("localcloud.asg.lifecycle_complete", victim, since=mark)[0]
    policies = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]

    assert policies["TerminationPolicies"] == [policy]
    assert held == {victim: "Terminating:Wait", survivor: "InService"}
    assert (chosen.subject, chosen.detail["cause"]) == (victim, "scale-in")
    assert (done.detail["result"], done.detail["by"]) == ("CONTINUE", "timeout") and done.seq < gone.seq
    assert members(cloud, group) == {survivor: "InService"}
    assert not cloud.events.find("localcloud.asg.launch", since=mark)
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)


def test_without_terminating_hooks_a_scale_in_terminates_at_once(cloud: LocalCloud) -> None:
    autoscaling, group = cloud.client("autoscaling"), "no-hooks"
    api_group(cloud, group, desired=2, TerminationPolicies=["NewestInstance"])
    newest = max(members(cloud, group), key=lambda i: cloud.events.find("localcloud.asg.launch", i)[0].seq)
    mark = len(cloud.events)

    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    terminated = cloud.events.find("localcloud.instance.terminated", since=mark)

    assert [e.subject for e in terminated] == [newest]  # within the call
    assert newest not in members(cloud, group) and len(members(cloud, group)) == 1
    assert ec2_state(cloud, newest) == "terminated"
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)


def test_deleting_a_group_ends_its_waiting_actions_and_terminates_the_members_at_once(cloud: LocalCloud) -> None:
    autoscaling, group, lifecycle = cloud.client("autoscaling"), "delete-while-waiting", cloud.service("asg-lifecycle")
    api_group(cloud, group, terminating_hook={"HeartbeatTimeout": 3600, "DefaultResult": "ABANDON"})
    (instance, _), = members(cloud, group).items()
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=0)
    waiting, running = members(cloud, group), ec2_state(cloud, instance)
    mark = len(cloud.events)

    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=group, ForceDelete=True)
    ended = cloud.events.find("localcloud.asg.lifecycle_complete", instance, since=mark)

    assert waiting == {instance: "Terminating:Wait"} and running in ("pending", "running")
    assert [(e.detail["result"], e.detail["by"]) for e in ended] == [("ABANDON", "group deleted")]
    assert cloud.events.find("localcloud.instance.terminated", instance, since=mark)  # within the call
    assert [a.token for a in lifecycle.actions.pending() if a.instance_id == instance] == []
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"] == []


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
