"""The resources an API call names, as the ARNs IAM authorizes, and their tags, read from moto at call time.

Each mapping follows the Service Authorization Reference's resource types for the action (e.g.
ec2:AssociateAddress: the `elastic-ip`, the `instance`, the `network-interface` when given). An action
not mapped here is authorized against `*`, as AWS does for actions without resource-level permissions;
the list covers what stacks' instances and functions call, not every API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from localcloud.iam.request import ApiCall

Mapper = Callable[[ApiCall, str], list[str]]  # (call, account) -> ARNs

# EC2 resource id prefix -> the resource type in its ARN.
_EC2_TYPES = {"i": "instance", "eipalloc": "elastic-ip", "eni": "network-interface", "sg": "security-group",
              "subnet": "subnet", "vpc": "vpc", "rtb": "route-table", "igw": "internet-gateway",
              "acl": "network-acl", "vol": "volume", "lt": "launch-template", "natgw": "natgateway",
              "eigw": "egress-only-internet-gateway"}


def resources_of(call: ApiCall, account: str) -> list[str]:
    """The ARNs the call must be allowed on (never empty: `*` when the action names none)."""
    mapper = _MAPPERS.get(call.action.lower())
    found = mapper(call, account) if mapper is not None else []
    return found or ["*"]


def tags_of(arn: str, account: str) -> dict[str, str]:
    """The resource's tags in moto ({} for a resource without tags, or one localcloud cannot look up)."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return {}
    service, region, resource = parts[2], parts[3], parts[5]
    try:
        return _TAG_READERS[service](account, region, resource) if service in _TAG_READERS else {}
    except Exception:  # the resource is gone or was never there: it has no tags
        return {}


# --- helpers ---

def _values(params: Mapping[str, Any], name: str) -> list[str]:
    """A parameter's values: `Name` itself, a JSON list, or the query protocol's `Name.1`, `Name.2`, …"""
    value = params.get(name)
    if isinstance(value, list):
        return [str(v) for v in value]
    found = [str(value)] if value not in (None, "") else []
    prefix = f"{name}."
    numbered = sorted((k for k in params if k.startswith(prefix) and k[len(prefix):].isdigit()),
                      key=lambda k: int(k[len(prefix):]))
    return found + [str(params[k]) for k in numbered]


def _backend(service: str, account: str, region: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[account][region]


def _ec2_arn(call: ApiCall, account: str, resource_id: str) -> str | None:
    kind = _EC2_TYPES.get(resource_id.partition("-")[0])
    if kind is None:
        return None
    return f"arn:aws:ec2:{call.signer.region}:{account}:{kind}/{resource_id}"


def _ec2_ids(*names: str) -> Mapper:
    def mapper(call: ApiCall, account: str) -> list[str]:
        ids = [v for name in names for v in _values(call.params, name)]
        return [arn for arn in (_ec2_arn(call, account, i) for i in ids) if arn is not None]
    return mapper


def _address(call: ApiCall, account: str) -> Any | None:
    """The Elastic IP a call names by allocation id, association id or public IP."""
    params = call.params
    backend = _backend("ec2", account, call.signer.region)
    for address in list(backend.addresses):
        if (params.get("AllocationId") and address.allocation_id == params["AllocationId"]) or \
                (params.get("AssociationId") and address.association_id == params["AssociationId"]) or \
                (params.get("PublicIp") and address.public_ip == params["PublicIp"]):
            return address
    return None


def _elastic_ip(call: ApiCall, account: str) -> list[str]:
    """The `elastic-ip` resource: by the allocation id given, else the address the call names otherwise."""
    allocation = call.params.get("AllocationId") or getattr(_address(call, account), "allocation_id", None)
    return [f"arn:aws:ec2:{call.signer.region}:{account}:elastic-ip/{allocation}"] if allocation else []


def _associate_address(call: ApiCall, account: str) -> list[str]:
    return _elastic_ip(call, account) + _ec2_ids("InstanceId", "NetworkInterfaceId")(call, account)


def _detach_interface(call: ApiCall, account: str) -> list[str]:
    """DetachNetworkInterface names only the attachment: authorized on its interface and instance."""
    attachment = call.params.get("AttachmentId")
    backend = _backend("ec2", account, call.signer.region)
    eni = next((e for e in list(backend.enis.values()) if attachment and e.attachment_id == attachment), None)
    if eni is None:
        return []
    ids = [eni.id] + ([eni.instance.id] if eni.instance is not None else [])
    return [arn for arn in (_ec2_arn(call, account, i) for i in ids) if arn is not None]


def _route53(kind: str, member: str) -> Mapper:
    def mapper(call: ApiCall, account: str) -> list[str]:
        value = str(call.params.get(member, "")).rpartition("/")[2]  # "/hostedzone/Z1" and "Z1" alike
        return [f"arn:aws:route53:::{kind}/{value}"] if value else []
    return mapper


def _asg_arn(call: ApiCall, account: str, name: str) -> str:
    group = _backend("autoscaling", account, call.signer.region).autoscaling_groups.get(name)
    if group is not None:
        return str(group.arn)
    return f"arn:aws:autoscaling:{call.signer.region}:{account}:autoScalingGroup:*:autoScalingGroupName/{name}"


def _asg_by_name(call: ApiCall, account: str) -> list[str]:
    names = _values(call.params, "AutoScalingGroupName")
    return [_asg_arn(call, account, name) for name in names]


def _asg_by_instance(call: ApiCall, account: str) -> list[str]:
    """Calls naming only an instance (SetInstanceHealth) are authorized on the instance's group."""
    if call.params.get("AutoScalingGroupName"):
        return _asg_by_name(call, account)
    wanted = set(_values(call.params, "InstanceId") + _values(call.params, "InstanceIds.member"))
    groups = _backend("autoscaling", account, call.signer.region).autoscaling_groups.values()
    return [str(g.arn) for g in list(groups) if any(s.instance.id in wanted for s in list(g.instance_states))]


def _sns_topic(call: ApiCall, account: str) -> list[str]:
    arn = call.params.get("TopicArn") or call.params.get("TargetArn")
    return [str(arn)] if arn else []


def _cloud_map(kind: str, member: str) -> Mapper:
    def mapper(call: ApiCall, account: str) -> list[str]:
        value = call.params.get(member)
        return [f"arn:aws:servicediscovery:{call.signer.region}:{account}:{kind}/{value}"] if value else []
    return mapper


def _lambda_function(call: ApiCall, account: str) -> list[str]:
    name = str(call.params.get("FunctionName", ""))
    if not name:
        return []
    if name.startswith("arn:"):
        return [name]
    return [f"arn:aws:lambda:{call.signer.region}:{account}:function:{name}"]


def _s3(call: ApiCall, account: str) -> list[str]:
    bucket, key = call.params.get("Bucket"), call.params.get("Key")
    if not bucket:
        return []
    return [f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"]


_MAPPERS: dict[str, Mapper] = {
    "ec2:associateaddress": _associate_address,
    "ec2:disassociateaddress": _elastic_ip,
    "ec2:releaseaddress": _elastic_ip,
    **{f"ec2:{op}": _ec2_ids("InstanceId") for op in (
        "startinstances", "stopinstances", "terminateinstances", "rebootinstances", "modifyinstanceattribute",
        "associateiaminstanceprofile", "modifyinstancemetadataoptions")},
    "ec2:attachnetworkinterface": _ec2_ids("NetworkInterfaceId", "InstanceId"),
    "ec2:detachnetworkinterface": _detach_interface,
    **{f"ec2:{op}": _ec2_ids("VolumeId", "InstanceId") for op in ("attachvolume", "detachvolume")},
    "ec2:createtags": _ec2_ids("ResourceId"),
    "ec2:deletetags": _ec2_ids("ResourceId"),
    **{f"route53:{op}": _route53("hostedzone", "HostedZoneId") for op in (
        "changeresourcerecordsets", "listresourcerecordsets", "updatehostedzonecomment")},
    **{f"route53:{op}": _route53("hostedzone", "Id") for op in ("gethostedzone", "deletehostedzone")},
    "route53:getchange": _route53("change", "Id"),
    **{f"route53:{op}": _route53("healthcheck", "HealthCheckId") for op in (
        "gethealthcheck", "updatehealthcheck", "deletehealthcheck", "gethealthcheckstatus",
        "gethealthchecklastfailurereason")},
    **{f"autoscaling:{op}": _asg_by_name for op in (
        "completelifecycleaction", "recordlifecycleactionheartbeat", "setdesiredcapacity",
        "updateautoscalinggroup", "deleteautoscalinggroup", "putlifecyclehook", "deletelifecyclehook",
        "suspendprocesses", "resumeprocesses", "attachinstances", "detachinstances", "enterstandby", "exitstandby")},
    "autoscaling:setinstancehealth": _asg_by_instance,
    "autoscaling:terminateinstanceinautoscalinggroup": _asg_by_instance,
    **{f"sns:{op}": _sns_topic for op in (
        "publish", "subscribe", "gettopicattributes", "settopicattributes", "deletetopic",
        "listsubscriptionsbytopic")},
    **{f"servicediscovery:{op}": _cloud_map("service", "ServiceId") for op in (
        "registerinstance", "deregisterinstance", "listinstances", "getinstance", "getinstanceshealthstatus",
        "updateinstancecustomhealthstatus")},
    **{f"servicediscovery:{op}": _cloud_map("service", "Id") for op in ("getservice", "updateservice",
                                                                         "deleteservice")},
    **{f"servicediscovery:{op}": _cloud_map("namespace", "Id") for op in ("getnamespace", "deletenamespace")},
    **{f"lambda:{op}": _lambda_function for op in (
        "invokefunction", "getfunction", "getfunctionconfiguration", "updatefunctioncode",
        "updatefunctionconfiguration", "deletefunction")},
    **{f"s3:{op}": _s3 for op in (
        "getobject", "putobject", "deleteobject", "listbucket", "getbucketpolicy", "putbucketpolicy",
        "deletebucketpolicy", "getbuckettagging", "putbuckettagging", "getbucketlocation", "getobjecttagging",
        "putobjecttagging", "getbucketversioning", "putbucketversioning")},
}


# --- tags ---

def _ec2_tags(account: str, region: str, resource: str) -> dict[str, str]:
    resource_id = resource.rpartition("/")[2]
    return dict(_backend("ec2", account, region).tags.get(resource_id, {}))


def _asg_tags(account: str, region: str, resource: str) -> dict[str, str]:
    name = resource.partition("autoScalingGroupName/")[2]
    group = _backend("autoscaling", account, region).autoscaling_groups[name]
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value", ""))) for t in group.tags}


def _route53_tags(account: str, region: str, resource: str) -> dict[str, str]:
    return dict(_backend("route53", account, "aws").list_tags_for_resource(resource.rpartition("/")[2]))


def _sns_tags(account: str, region: str, resource: str) -> dict[str, str]:
    arn = f"arn:aws:sns:{region}:{account}:{resource}"
    return dict(_backend("sns", account, region).list_tags_for_resource(arn))


_TAG_READERS: dict[str, Callable[[str, str, str], dict[str, str]]] = {
    "ec2": _ec2_tags, "autoscaling": _asg_tags, "route53": _route53_tags, "sns": _sns_tags}
