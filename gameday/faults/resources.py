"""Small boto3 helpers the faults and their reverts share: tags as dicts, "not found" errors, tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from gameday.errors import FaultError
from gameday.faults.plan import TOKEN_TAG

# Error codes that mean "the thing is gone": a revert has nothing left to restore on it.
GONE_CODES = frozenset({
    "InvalidGroup.NotFound", "InvalidGroupId.NotFound", "InvalidGroupId.Malformed", "InvalidInstanceID.NotFound",
    "InvalidNetworkInterfaceID.NotFound", "InvalidSubnetID.NotFound", "InvalidNetworkAclID.NotFound",
    "InvalidVpcID.NotFound", "InvalidAssociationID.NotFound", "NoSuchBucket", "ClusterNotFoundException",
    "ServiceNotFoundException", "ServiceNotActiveException",
})


def new_token() -> str:
    return secrets.token_hex(6)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_gone(exc: ClientError) -> bool:
    return error_code(exc) in GONE_CODES


def tags_of(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """EC2/S3 `[{"Key": k, "Value": v}]` or ECS `[{"key": k, "value": v}]` as a dict."""
    tags: dict[str, str] = {}
    for item in items or ():
        key = item.get("Key", item.get("key"))
        if key is not None:
            tags[str(key)] = str(item.get("Value", item.get("value", "")))
    return tags


def token_tags(token: str, resource_type: str, name: str) -> list[dict[str, Any]]:
    """TagSpecifications that mark a resource a fault creates (tagged in the same call that creates it)."""
    return [{"ResourceType": resource_type,
             "Tags": [{"Key": TOKEN_TAG, "Value": token}, {"Key": "Name", "Value": name},
                      {"Key": "managedByGameday", "Value": "true"}]}]


def running_instances(ec2: Any, vpc_id: str, az: str) -> list[dict[str, Any]]:
    """Running (or starting) instances in one VPC and availability zone, sorted by id."""
    found: list[dict[str, Any]] = []
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "availability-zone", "Values": [az]},
               {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            found.extend(reservation["Instances"])
    return sorted(found, key=lambda i: str(i["InstanceId"]))


def instance_parents(instance: Mapping[str, Any]) -> tuple[str, ...]:
    """An instance belongs to a stack through its Auto Scaling group, when it has one."""
    group = tags_of(instance.get("Tags")).get("aws:autoscaling:groupName")
    return (group,) if group else ()


def instance_ipv6(ec2: Any, instance_id: str) -> str | None:
    """An instance's first IPv6 address (None: it has none, or is gone with its interface)."""
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    for instance in (i for r in found for i in r["Instances"]):
        for interface in instance.get("NetworkInterfaces", []):
            for address in interface.get("Ipv6Addresses", []):
                return str(address["Ipv6Address"])
    return None


def auto_scaling_group(backend: Any, name: str, fault: str) -> dict[str, Any]:
    """The group as DescribeAutoScalingGroups reports it; a FaultError when it does not exist."""
    groups = backend.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"]
    if not groups:
        raise FaultError(f"Auto Scaling group {name} not found", fault=fault, target=name)
    return dict(groups[0])


def first_in_service(group: Mapping[str, Any], fault: str, purpose: str = "") -> str:
    """The group's InService instance with the lowest id (the one a fault on "the instance" picks)."""
    in_service = sorted(i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService")
    if not in_service:
        name = group["AutoScalingGroupName"]
        raise FaultError(f"group {name} has no InService instance{purpose}", fault=fault, target=name)
    return str(in_service[0])

