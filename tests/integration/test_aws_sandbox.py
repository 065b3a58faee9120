"""A moto server posing as AWS for the aws backend's tests, a small tagged world of resources to break,
and a snapshot of everything the faults touch (so "back as before" is one equality).

Imported by the other test_aws_*, test_rollback_* and test_faults* modules; its own tests check the
helpers. Every test module uses its own region: moto's state is shared by every server in this process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.backends.aws import AwsBackend, AwsOptions
from tests.moto_server import moto_server

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's
RUN_TAG = "gameday:run"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
}



def child_env() -> dict[str, str]:
    """Environment for a gameday child process talking to the moto server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k.lower() not in ("http_proxy",
                                                                                                   "https_proxy")}
    return {**env, **AWS_ENV, "PYTHONPATH": str(ROOT)}


def set_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)


def client(url: str, region: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def aws_backend(url: str, region: str, run_id: str | None, *, allow: tuple[str, ...] = (ACCOUNT,),
                existing_stack: str | None = None) -> AwsBackend:
    return AwsBackend(AwsOptions(region=region, endpoint_url=url, allow_accounts=frozenset(allow),
                                 run_id=run_id, existing_stacks=(existing_stack,) if existing_stack else ()))


@dataclass(frozen=True)
class World:
    region: str
    run_id: str
    vpc: str
    az_a: str
    az_b: str
    subnet_a: str
    subnet_b: str
    sg_a: str  # used by the instances in zone a only
    sg_b: str
    instances_a: tuple[str, ...]
    instance_b: str
    custom_nacl: str  # subnet a's own network ACL, with entries of its own
    cluster: str
    service: str
    bucket_with_policy: str
    bucket_without_policy: str
    outsider_vpc: str  # untagged, not in any stack: nothing may touch it
    outsider_bucket: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> World:
        data = json.loads(text)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _tags(resource_type: str, run_id: str | None) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": RUN_TAG, "Value": run_id}]}] if run_id else []


def build_world(url: str, region: str, run_id: str) -> World:
    ec2, ecs, s3 = (client(url, region, s) for s in ("ec2", "ecs", "s3"))
    az_a, az_b = f"{region}a", f"{region}b"
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=_tags("vpc", run_id))["Vpc"]["VpcId"]
    subnet_a, subnet_b = (ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az,
                                            TagSpecifications=_tags("subnet", run_id))["Subnet"]["SubnetId"]
                          for cidr, az in (("10.9.1.0/24", az_a), ("10.9.2.0/24", az_b)))
    sg_a, sg_b = (ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc,
                                            TagSpecifications=_tags("security-group", run_id))["GroupId"]
                  for name in ("web-a", "web-b"))
    ec2.authorize_security_group_ingress(GroupId=sg_a, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": sg_b,
                                                                                     "Description": "from b"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "IpRanges": [{"CidrIp": "10.9.1.0/24"}, {"CidrIp": "10.9.2.0/24"}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])
    ec2.authorize_security_group_ingress(GroupId=sg_b, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    instances_a = tuple(i["InstanceId"] for i in ec2.run_instances(
        ImageId="ami-12345678", MinCount=2, MaxCount=2, SubnetId=subnet_a, SecurityGroupIds=[sg_a],
        TagSpecifications=_tags("instance", run_id))["Instances"])
    instance_b = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet_b,
                                   SecurityGroupIds=[sg_b], TagSpecifications=_tags("instance", run_id)
                                   )["Instances"][0]["InstanceId"]
    custom_nacl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=_tags("network-acl", run_id)
                                         )["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(NetworkAclId=custom_nacl, RuleNumber=100, Protocol="6", RuleAction="allow",
                                     Egress=egress, CidrBlock="0.0.0.0/0", PortRange={"From": 80, "To": 80})
        ec2.create_network_acl_entry(NetworkAclId=custom_nacl, RuleNumber=200, Protocol="-1", RuleAction="allow",
                                     Egress=egress, CidrBlock="10.0.0.0/8")
    association = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_a]}]
                                            )["NetworkAcls"][0]["Associations"]
    ec2.replace_network_acl_association(
        AssociationId=next(a["NetworkAclAssociationId"] for a in association if a["SubnetId"] == subnet_a),
        NetworkAclId=custom_nacl)
    cluster = f"c-{run_id}"
    ecs.create_cluster(clusterName=cluster, tags=[{"key": RUN_TAG, "value": run_id}])
    ecs.register_task_definition(family=f"web-{run_id}", containerDefinitions=[{"name": "w", "image": "x",
                                                                                "memory": 64}])
    service = ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=f"web-{run_id}",
                                 desiredCount=3, tags=[{"key": RUN_TAG, "value": run_id}])["service"]["serviceArn"]
    buckets = [f"gd-{run_id}-{suffix}" for suffix in ("policy", "nopolicy", "outsider")]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                           {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    for bucket in buckets[:2]:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": RUN_TAG, "Value": run_id}]})
    s3.put_bucket_policy(Bucket=buckets[0], Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{buckets[0]}/*"}]}))
    outsider_vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    outsider_subnet = ec2.create_subnet(VpcId=outsider_vpc, CidrBlock="10.8.1.0/24", AvailabilityZone=az_a
                                        )["Subnet"]["SubnetId"]
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=outsider_subnet)
    return World(region, run_id, vpc, az_a, az_b, subnet_a, subnet_b, sg_a, sg_b, instances_a, instance_b,
                 custom_nacl, cluster, service, buckets[0], buckets[1], outsider_vpc, buckets[2])


def _rules(group: dict[str, Any]) -> list[str]:
    rules = []
    for direction in ("IpPermissions", "IpPermissionsEgress"):
        for perm in group.get(direction, []):
            base = {k: perm.get(k) for k in ("IpProtocol", "FromPort", "ToPort")}
            for source in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
                for item in perm.get(source, []):
                    rules.append(json.dumps({"dir": direction, **base, source: item}, sort_keys=True))
    return sorted(rules)


def snapshot(url: str, world: World) -> dict[str, Any]:
    """Everything the faults touch, as plain data: equal snapshots mean nothing was left behind."""
    ec2, ecs, s3 = (client(url, world.region, s) for s in ("ec2", "ecs", "s3"))
    vpcs = [world.vpc, world.outsider_vpc]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": vpcs}])["SecurityGroups"]
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": vpcs}])["NetworkAcls"]
    instances = [i for r in ec2.describe_instances(Filters=[{"Name": "vpc-id", "Values": vpcs}])["Reservations"]
                 for i in r["Instances"]]
    interfaces = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": vpcs}])["NetworkInterfaces"]
    policies = {}
    for bucket in (world.bucket_with_policy, world.bucket_without_policy, world.outsider_bucket):
        try:
            policies[bucket] = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        except s3.exceptions.ClientError:
            policies[bucket] = None
    service = ecs.describe_services(cluster=world.cluster, services=[world.service])["services"][0]
    return {
        "security_group_rules": {g["GroupId"]: _rules(g) for g in groups},
        "instance_groups": {i["InstanceId"]: sorted(g["GroupId"] for g in i.get("SecurityGroups", []))
                            for i in instances},
        "interface_groups": {n["NetworkInterfaceId"]: sorted(g["GroupId"] for g in n["Groups"]) for n in interfaces},
        "network_acls": {a["NetworkAclId"]: sorted(json.dumps(e, sort_keys=True) for e in a["Entries"]) for a in acls},
        "nacl_associations": {s["SubnetId"]: a["NetworkAclId"] for a in acls for s in a.get("Associations", [])},
        "ecs_desired_count": service["desiredCount"],
        "bucket_policies": policies,
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [key for key in before if before[key] != after.get(key)]


# --- the helpers' own tests ---

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    with moto_server() as url:
        yield url, build_world(url, "eu-south-2", "sandbox")


def test_snapshot_is_stable_and_sees_a_change(sandbox: tuple[str, World]) -> None:
    url, world = sandbox
    before = snapshot(url, world)

    client(url, world.region, "ecs").update_service(cluster=world.cluster, service=world.service, desiredCount=1)
    changed = snapshot(url, world)
    client(url, world.region, "ecs").update_service(cluster=world.cluster, service=world.service, desiredCount=3)

    assert snapshot(url, world) == before
    assert differences(before, changed) == ["ecs_desired_count"]
    assert len(before["security_group_rules"][world.sg_a]) == 7  # 6 ingress sources + the default egress


def test_world_round_trips_through_json(sandbox: tuple[str, World]) -> None:
    _, world = sandbox

    assert World.from_json(world.to_json()) == world
