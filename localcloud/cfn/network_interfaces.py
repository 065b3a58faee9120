"""AWS::EC2::NetworkInterface as AWS reads it: moto's CloudFormation drops `GroupSet`, `Ipv6Addresses`,
`Ipv6AddressCount` and `Tags`, has no `Id` or `PrimaryIpv6Address` attribute, and cannot delete the interface
it made. A stack whose instances take over one fixed interface needs all of them: the record names the
interface's IPv6 address once (`!GetAtt Interface.PrimaryIpv6Address`), the instances attach it by id.

The interface is made through the EC2 backend's own call, so localcloud's hooks give it its loopback address
(and the mapped IPv6 form of it, `localcloud.ec2.physics`), as CreateNetworkInterface does.
"""

from __future__ import annotations

from typing import Any

from localcloud.patching import Patches

CFN_TYPE = "AWS::EC2::NetworkInterface"
_ATTRIBUTES = ("Id", "PrimaryPrivateIpAddress", "PrimaryIpv6Address", "SecondaryPrivateIpAddresses")


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _create(resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any) -> Any:
    props = cloudformation_json.get("Properties") or {}
    backend = _ec2(account_id, region_name)
    tags = {str(t["Key"]): str(t["Value"]) for t in props.get("Tags") or [] if "Key" in t}
    return backend.create_network_interface(
        backend.get_subnet(props["SubnetId"]), props.get("PrivateIpAddress"),
        group_ids=[str(g) for g in props.get("GroupSet") or []], description=props.get("Description"), tags=tags,
        ipv6_addresses=[str(a["Ipv6Address"]) for a in props.get("Ipv6Addresses") or []],
        ipv6_address_count=int(props.get("Ipv6AddressCount") or 0))


def _attribute(eni: Any, attribute_name: str) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if attribute_name == "Id":
        return eni.id
    if attribute_name == "PrimaryPrivateIpAddress":
        return eni.private_ip_address
    if attribute_name == "PrimaryIpv6Address" and eni.ipv6_addresses:
        return str(eni.ipv6_addresses[0])
    if attribute_name == "SecondaryPrivateIpAddresses":
        return [a["PrivateIpAddress"] for a in eni.private_ip_addresses if not a.get("Primary")]
    raise UnformattedGetAttTemplateException()


def delete_interface(eni: Any, account_id: str, region: str) -> None:
    """As CloudFormation does: an interface still attached is refused (InUse) and tried again in the next
    pass, once the instances holding it are gone."""
    backend = _ec2(account_id, region)
    if eni.id not in backend.enis:
        return
    if eni.instance is not None:
        from localcloud.ec2.moto_state import in_use_error

        raise in_use_error(eni.id)
    backend.delete_network_interface(eni.id)


def interface_patches() -> Patches:
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    patches = Patches("localcloud.cfn.network_interfaces")
    patches.add(NetworkInterface, "create_from_cloudformation_json",
                classmethod(lambda cls, *args, **kwargs: _create(*args, **kwargs)))
    patches.add(NetworkInterface, "has_cfn_attr", classmethod(lambda cls, attr: attr in _ATTRIBUTES))
    patches.add(NetworkInterface, "get_cfn_attribute", _attribute)
    return patches
