"""Everything localcloud reads from or writes into moto's EC2 (and Auto Scaling member) objects, in one place.

moto's models are not a public API; keeping the attribute names here means a moto upgrade touches
one module. Reads are safe from any thread; writes are single attribute assignments.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

ASG_TAG = "aws:autoscaling:groupName"
_LT_ID_TAG = "aws:ec2launchtemplate:id"
_LT_VERSION_TAG = "aws:ec2launchtemplate:version"
GONE = ("shutting-down", "terminated")
# An Auto Scaling member on its way out: held by terminating lifecycle hooks, or released by them.
LEAVING = frozenset({"Terminating:Wait", "Terminating:Proceed"})
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}


@dataclass(frozen=True)
class Role:
    name: str
    profile_arn: str
    profile_id: str


def set_state(instance: Any, name: str) -> None:
    from moto.ec2.models.instances import InstanceState

    instance._state = InstanceState(name, STATE_CODES[name])  # one assignment: readers never see a mix


def state(instance: Any) -> str:
    return str(instance._state.name)


def tags(instance: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in instance.get_tags()}


def asg_name(instance: Any) -> str | None:
    return tags(instance).get(ASG_TAG)


def primary_nic(instance: Any) -> Any:
    return instance.nics[0]


def private_ip(instance: Any) -> str:
    return str(instance.private_ip)


def public_ip(instance: Any) -> str | None:
    nic = instance.nics.get(0)
    return str(nic.public_ip) if nic is not None and nic.public_ip else None


def user_data(instance: Any) -> bytes | None:
    """The instance's user data, decoded (moto keeps it base64, as the API carries it)."""
    raw = instance.user_data
    if raw is None:
        return None
    if isinstance(raw, list):  # older moto kept a list
        raw = raw[0] if raw else None
        if raw is None:
            return None
    encoded = raw.as_bytes() if hasattr(raw, "as_bytes") else (raw.encode() if isinstance(raw, str) else raw)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return bytes(encoded)


def launch_template_data(instance: Any) -> dict[str, Any]:
    found = tags(instance)
    template_id = found.get(_LT_ID_TAG)
    if not template_id:
        return {}
    try:
        version = instance.ec2_backend._get_template_from_args(
            {"LaunchTemplateId": template_id, "Version": found.get(_LT_VERSION_TAG, "$Default")})
    except Exception as exc:
        log.debug("launch template %s of %s unreadable: %s", template_id, instance.id, exc)
        return {}
    return dict(version.data)


def apply_launch_template(instance: Any) -> None:
    """What moto drops when launching from a template: the instance profile and the metadata options."""
    from moto.ec2.models.instances import MetadataOptions

    data = launch_template_data(instance)
    if data.get("MetadataOptions"):
        instance.metadata_options = MetadataOptions(data["MetadataOptions"])
    profile = data.get("IamInstanceProfile") or {}
    backend = instance.ec2_backend
    if not profile or instance.id in backend.iam_instance_profile_associations:
        return
    try:
        backend.associate_iam_instance_profile(instance_id=instance.id,
                                               iam_instance_profile_name=profile.get("Name"),
                                               iam_instance_profile_arn=profile.get("Arn"))
    except Exception as exc:
        log.warning("instance profile %s of %s not attached: %s", profile, instance.id, exc)


def role(instance: Any) -> Role | None:
    association = instance.ec2_backend.iam_instance_profile_associations.get(instance.id)
    profile = getattr(association, "iam_instance_profile", None)
    if profile is None or not profile.roles:
        return None
    return Role(str(profile.roles[0].name), str(profile.arn), str(profile.id))


def subnet_info(nic: Any) -> dict[str, str]:
    subnet = nic.subnet
    backend = nic.ec2_backend
    vpc = backend.get_vpc(subnet.vpc_id) if subnet is not None else None
    return {
        "subnet-id": str(subnet.id) if subnet is not None else "",
        "subnet-ipv4-cidr-block": str(subnet.cidr_block) if subnet is not None else "",
        "vpc-id": str(subnet.vpc_id) if subnet is not None else "",
        "vpc-ipv4-cidr-block": str(vpc.cidr_block) if vpc is not None else "",
    }


def security_groups(instance: Any) -> list[tuple[str, str]]:
    groups = {g.id: g.name for nic in instance.nics.values() for g in nic.group_set}
    groups.update({g.id: g.name for g in instance.security_groups})
    return sorted(groups.items())


def instances_of(autoscaling_backend: Any, instance_ids: list[str]) -> dict[str, Any]:
    """instance id -> the ASG InstanceState holding it, for the ids that belong to a group."""
    return {st.instance.id: st for group in autoscaling_backend.autoscaling_groups.values()
            for st in group.instance_states if st.instance.id in instance_ids}


# --- IPv6: the IPv4-mapped form of the instance's own loopback address (reachable without privileges) ---

def mapped_ipv6(address: str) -> str:
    return f"::ffff:{address}"


def asks_for_ipv6(nic_spec: list[dict[str, Any]], ipv6_address_count: Any) -> bool:
    """Whether RunInstances' own parameters ask for an IPv6 address (moto ignores them)."""
    if _positive(ipv6_address_count):
        return True
    return any(_positive(nic.get("Ipv6AddressCount")) or nic.get("Ipv6Addresses") for nic in nic_spec or [])


def wants_ipv6(instance: Any) -> bool:
    """What moto drops from the launch template and the subnet: an IPv6 address for the primary interface."""
    template_nics = launch_template_data(instance).get("NetworkInterfaces") or []
    if asks_for_ipv6([n for n in template_nics if str(n.get("DeviceIndex", 0)) == "0"], None):
        return True
    subnet = primary_nic(instance).subnet
    return bool(getattr(subnet, "assign_ipv6_address_on_creation", False))


def give_ipv6(instance: Any) -> str:
    """Assign the mapped address to the primary interface (describe: `Ipv6Address` and the ENI's list)."""
    address = mapped_ipv6(private_ip(instance))
    nic = primary_nic(instance)
    if address not in nic.ipv6_addresses:
        nic.ipv6_addresses = [address, *nic.ipv6_addresses]
    instance.ipv6_address = address  # serialized as Instances[].Ipv6Address
    return address


def ipv6(instance: Any) -> str | None:
    nic = instance.nics.get(0)
    return str(nic.ipv6_addresses[0]) if nic is not None and nic.ipv6_addresses else None


def _positive(value: Any) -> bool:
    try:
        return int(value or 0) >= 1
    except (TypeError, ValueError):
        return False


# --- Spot ---

def is_spot(instance: Any) -> bool:
    return getattr(instance, "lifecycle", None) == "spot"


def make_spot(instance: Any, instance_type: str) -> None:
    """What a Spot launch from a mixed instances policy gives: the chosen pool's type, lifecycle `spot`."""
    instance.instance_type = instance_type
    instance.lifecycle = "spot"


def spot_override_types(group: Any) -> list[str] | None:
    """The override types, in priority order, of a group whose mixed instances policy launches only Spot
    (no On-Demand base, 0 % On-Demand above it); None for any other group."""
    policy = getattr(group, "mixed_instances_policy", None) or {}
    distribution = policy.get("InstancesDistribution") or {}
    if not policy or int(distribution.get("OnDemandBaseCapacity", 0) or 0) != 0 \
            or int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100) or 0) != 0:
        return None
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    types = [str(o["InstanceType"]) for o in overrides if o.get("InstanceType")]
    return types or [str(group.instance_type)]


def subnet_zone(group: Any, subnet_id: str) -> str:
    return str(group.ec2_backend.get_subnet(subnet_id).availability_zone)


def live_members(group: Any) -> list[Any]:
    """Members that count: not terminated, and not on their way out in Terminating:Wait/Proceed."""
    return [st for st in group.instance_states
            if st.instance._state.name not in GONE and st.lifecycle_state not in LEAVING]


def leave_group(member: Any) -> None:
    """The group has finished terminating `member`: it leaves the group, then EC2 terminates it (unless gone).

    Removed in place: a request thread may be appending a new member to the same list."""
    try:
        member.auto_scaling_group.instance_states.remove(member)
    except ValueError:  # already out (moto's own termination got there first)
        pass
    if state(member.instance) not in GONE:
        terminate(member.instance)


def instances_wanted(group: Any, desired: int) -> int:
    """How many instances moto keeps a group at for `desired`: its own arithmetic (the first override's
    weight, the On-Demand base and percentage), so that localcloud's scale-in agrees with moto's scale-out."""
    policy = group.mixed_instances_policy or {}
    overrides = (policy.get("LaunchTemplate") or {}).get("Overrides") or []
    if not overrides:
        return desired
    distribution = policy.get("InstancesDistribution") or {}
    base = int(distribution.get("OnDemandBaseCapacity", 0))
    percent = int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100))
    weight_text = str(overrides[0].get("WeightedCapacity", "1"))
    weight = (int(weight_text) if weight_text.isdigit() else 1) or 1
    if base >= desired:
        on_demand, spot = desired, 0
    else:
        on_demand_above = int((desired - base) * percent) / 100.0
        spot = int(desired - base - on_demand_above)
        on_demand = int(base + on_demand_above)
    return math.ceil(on_demand / weight) + math.ceil(spot / weight)


def refresh_load_balancers(group: Any) -> None:
    """What moto's SetDesiredCapacity ends with: the group's load balancers and target groups follow its members."""
    backend = group.autoscaling_backend
    if group.name in backend.autoscaling_groups:
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)


def termination_activity(instance: Any, original_capacity: int) -> Any:
    """TerminateInstanceInAutoScalingGroup's answer (its cause says whether the capacity shrank)."""
    from moto.autoscaling.models import TerminateInstanceActivity

    return TerminateInstanceActivity(instance, original_capacity)


# --- what a member was launched from (termination policies) ---

def launch_template_of(instance: Any) -> tuple[str, int] | None:
    """(template id, version) from the tags EC2 puts on an instance launched from a template."""
    found = tags(instance)
    template_id, version = found.get(_LT_ID_TAG), found.get(_LT_VERSION_TAG)
    if not template_id or not version or not version.isdigit():
        return None
    return template_id, int(version)


def template_created(instance: Any, template_id: str) -> datetime | None:
    template = instance.ec2_backend.launch_templates.get(template_id)
    return template.create_time if template is not None else None


def note_launch_configuration(instance: Any, configuration: Any) -> None:
    """moto does not keep which launch configuration an instance came from: remember it."""
    instance.localcloud_launch_configuration = configuration


def launch_configuration_of(instance: Any) -> Any | None:
    return getattr(instance, "localcloud_launch_configuration", None)


def launch_time(instance: Any) -> datetime:
    launched: datetime = instance.launch_time  # naive UTC, to the microsecond
    return launched


def terminate(instance: Any) -> None:
    """Terminate as the TerminateInstances API does: EC2, then Auto Scaling and ELBv2 hear of it
    (moto tells them in its response layer, not in the backend)."""
    from moto.autoscaling import autoscaling_backends
    from moto.elbv2 import elbv2_backends

    backend = instance.ec2_backend
    ids = [instance.id]
    backend.terminate_instances(ids)
    autoscaling_backends[backend.account_id][backend.region_name].notify_terminate_instances(ids)
    elbv2_backends[backend.account_id][backend.region_name].notify_terminate_instances(ids)


# --- network interfaces attached after launch (a fixed address that moves between instances) ---

def in_use_error(eni_id: str) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("InvalidNetworkInterface.InUse", f"Interface: [{eni_id}] in use.")


def zone_mismatch_error(eni: Any, instance: Any) -> Exception:
    from moto.ec2.exceptions import InvalidParameterCombination

    return InvalidParameterCombination(
        f"You may not attach a network interface to an instance if they are not in the same availability zone "
        f"(interface {eni.id} is in {eni.subnet.availability_zone}, instance {instance.id} in "
        f"{instance.placement.zone})")


def ipv6_outside_subnet_error(address: str, subnet: Any) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("InvalidParameterValue", f"Address {address} is not within the IPv6 CIDR blocks of "
                                                   f"subnet {subnet.id}")


def subnet_ipv6_blocks(subnet: Any) -> list[str]:
    return [str(entry["ipv6CidrBlock"]) for entry in subnet.ipv6_cidr_block_associations.values()
            if entry["ipv6CidrBlockState"]["State"] == "associated"]


def holder(eni: Any) -> Any | None:
    """The instance an interface is attached to (None: available)."""
    return eni.instance


def instance_zone(instance: Any) -> str:
    return str(instance.placement.zone)


def attached_later(instance: Any) -> list[Any]:
    """The instance's interfaces that EC2 detaches (not deletes) when it terminates: every one but the
    primary whose DeleteOnTermination is off (an interface attached after launch)."""
    return [nic for index, nic in sorted(instance.nics.items()) if int(index) != 0 and not nic.delete_on_termination]


def detach(instance: Any, eni: Any) -> None:
    instance.detach_eni(eni)
