"""IAM on localcloud's API for role sessions: boto3 over HTTP with credentials localcloud issued to a role.

Each denial must read as AWS's (status, error code, message naming the session, the action and the resource),
be a `localcloud.iam.denied` event, and leave the state untouched; the suite's own calls stay unrestricted.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.cloud import ACCOUNT_ID
from localcloud.iam import Principal
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=5) as running:
        yield running


def role(cloud: LocalCloud, name: str, *statements: dict[str, Any], trust: dict[str, Any] = EC2_TRUST) -> str:
    iam = cloud.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def session_client(cloud: LocalCloud, role_name: str, service: str, session: str = "i-0session") -> Any:
    """A client signing with the temporary credentials localcloud issued to the role's session."""
    creds = cloud.credentials.credentials_for(Principal(ACCOUNT_ID, role_name, session))
    return boto3.session.Session(aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                                 aws_session_token=creds.token, region_name=cloud.region).client(
        service, endpoint_url=cloud.endpoint_url, config=Config(retries={"max_attempts": 1}))


def denied(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_ec2_denies_an_address_the_policy_does_not_name_in_aws_words(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    mine, other = (ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2))
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    eip = f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:elastic-ip/"
    role(cloud, "claim", {"Effect": "Allow", "Action": "ec2:AssociateAddress", "Resource": [eip + mine,
                                                                                           "arn:aws:ec2:*:*:instance/*"]})
    client = session_client(cloud, "claim", "ec2", session=iid)
    mark = len(cloud.events)

    status, code, message = denied(lambda: client.associate_address(AllocationId=other, InstanceId=iid))
    client.associate_address(AllocationId=mine, InstanceId=iid)

    assert (status, code) == (403, "UnauthorizedOperation")
    assert message == (f"You are not authorized to perform this operation. User: arn:aws:sts::{ACCOUNT_ID}:"
                       f"assumed-role/claim/{iid} is not authorized to perform: ec2:AssociateAddress on resource: "
                       f"{eip}{other} "
                       f"because no identity-based policy allows the ec2:AssociateAddress action")
    event = cloud.events.find("localcloud.iam.denied", iid, since=mark)[0]
    assert event.detail["action"] == "ec2:AssociateAddress" and event.detail["resource"] == eip + other
    assert event.detail["reason"] == "implicit-deny" and event.detail["role"] == "claim"
    owners = {a["AllocationId"]: a.get("InstanceId") for a in ec2.describe_addresses()["Addresses"]}
    assert not owners[other] and owners[mine] == iid


def test_a_tag_condition_on_the_instance_is_read_from_moto_at_call_time(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    role(cloud, "tagged",
         {"Effect": "Allow", "Action": "ec2:AssociateAddress", "Resource": "arn:aws:ec2:*:*:elastic-ip/*"},
         {"Effect": "Allow", "Action": "ec2:AssociateAddress", "Resource": "arn:aws:ec2:*:*:instance/*",
          "Condition": {"StringEquals": {"aws:ResourceTag/gameday:stack": "web"}}})
    client = session_client(cloud, "tagged", "ec2")

    _, code, message = denied(lambda: client.associate_address(AllocationId=allocation, InstanceId=iid))
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "gameday:stack", "Value": "web"}])
    client.associate_address(AllocationId=allocation, InstanceId=iid)

    assert code == "UnauthorizedOperation"
    assert f"on resource: arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance/{iid}" in message


def test_an_explicit_deny_wins_and_says_so(cloud: LocalCloud) -> None:
    role(cloud, "denied", {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
         {"Effect": "Deny", "Action": "ec2:Describe*", "Resource": "*"})
    client = session_client(cloud, "denied", "ec2")

    _, code, message = denied(client.describe_addresses)

    assert code == "UnauthorizedOperation"
    assert message.endswith("is not authorized to perform: ec2:DescribeAddresses with an explicit deny in an "
                            "identity-based policy")


def test_route53_denies_another_zone_with_its_rest_error(cloud: LocalCloud) -> None:
    route53 = cloud.client("route53")
    names = {route53.create_hosted_zone(Name=f"{n}.iam.test", CallerReference=n)["HostedZone"]["Id"].split("/")[-1]:
             f"{n}.iam.test" for n in ("mine", "theirs")}
    zones = list(names)
    role(cloud, "dns", {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets",
                        "Resource": f"arn:aws:route53:::hostedzone/{zones[0]}"},
         {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"})
    client = session_client(cloud, "dns", "route53")

    def upsert(zone: str) -> Any:
        return client.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": f"a.{names[zone]}", "Type": "A", "TTL": 60,
                                                      "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})

    change = upsert(zones[0])["ChangeInfo"]["Id"]
    client.get_change(Id=change)
    status, code, message = denied(lambda: upsert(zones[1]))
    _, listed_code, _ = denied(client.list_hosted_zones)

    assert (status, code, listed_code) == (403, "AccessDenied", "AccessDenied")
    assert f"route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/{zones[1]}" in message


@pytest.mark.parametrize(("service", "call", "code", "shown"), [
    ("autoscaling", lambda c: c.complete_lifecycle_action(LifecycleHookName="h", AutoScalingGroupName="g",
                                                          LifecycleActionResult="CONTINUE", InstanceId="i-1"),
     "AccessDenied", "autoscaling:CompleteLifecycleAction on resource: arn:aws:autoscaling:us-east-1:"
                     f"{ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/g"),
    ("sns", lambda c: c.publish(TopicArn=f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:t", Message="m"),
     "AuthorizationError", f"SNS:Publish on resource: arn:aws:sns:us-east-1:{ACCOUNT_ID}:t because no identity-based "
                           "policy allows the SNS:Publish action"),
    ("servicediscovery", lambda c: c.list_instances(ServiceId="srv-1"),
     "AccessDeniedException", f"servicediscovery:ListInstances on resource: arn:aws:servicediscovery:us-east-1:"
                              f"{ACCOUNT_ID}:service/srv-1"),
    ("lambda", lambda c: c.invoke(FunctionName="f"),
     "AccessDeniedException", f"lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:f"),
    ("s3", lambda c: c.get_object(Bucket="b", Key="k/1"),
     "AccessDenied", "s3:GetObject on resource: arn:aws:s3:::b/k/1"),
    ("sts", lambda c: c.get_session_token(), "AccessDenied", "sts:GetSessionToken because"),
])
def test_each_protocol_answers_with_its_own_error(cloud: LocalCloud, service: str, call: Callable[[Any], Any],
                                                  code: str, shown: str) -> None:
    if "nothing" not in {r["RoleName"] for r in cloud.client("iam").list_roles()["Roles"]}:
        role(cloud, "nothing", {"Effect": "Allow", "Action": "ec2:DescribeTags", "Resource": "*"})

    status, got, message = denied(lambda: call(session_client(cloud, "nothing", service)))

    assert (status, got) == (403, code)
    assert f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/nothing/i-0session is not authorized to perform: {shown}" \
        in message


def test_get_caller_identity_is_always_allowed_and_the_suite_s_own_calls_are_not_restricted(cloud: LocalCloud) -> None:
    role(cloud, "nobody", {"Effect": "Deny", "Action": "*", "Resource": "*"})

    session_client(cloud, "nobody", "sts").get_caller_identity()
    cloud.client("ec2").describe_addresses()
    cloud.client("sts").get_session_token()


HANDLER = """
import boto3

def handler(event, context):
    return boto3.client("ec2").describe_addresses()["Addresses"]
"""


def test_a_lambda_handler_calls_with_its_execution_role_s_session(cloud: LocalCloud) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", HANDLER)
    lam = cloud.client("lambda")
    for name, allowed in (("reader", "ec2:DescribeAddresses"), ("blind", "ec2:DescribeTags")):
        arn = role(cloud, f"{name}-role", {"Effect": "Allow", "Action": allowed, "Resource": "*"}, trust=LAMBDA_TRUST)
        lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Timeout=20, Role=arn,
                            Code={"ZipFile": package.getvalue()})
    mark = len(cloud.events)

    ok = lam.invoke(FunctionName="reader")
    failed = lam.invoke(FunctionName="blind")

    assert "FunctionError" not in ok
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "ClientError" and "(UnauthorizedOperation)" in error["errorMessage"]
    assert "assumed-role/blind-role/blind is not authorized to perform: ec2:DescribeAddresses" in error["errorMessage"]
    assert cloud.events.find("localcloud.iam.denied", "blind", since=mark)
    assert not cloud.events.find("localcloud.iam.denied", "reader", since=mark)
