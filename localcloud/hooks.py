"""The one place localcloud hooks into moto: every patched method and what it reports.

moto only stores resources; these wrappers let localcloud hear about a new instance, a termination
or an Elastic IP move the moment the API call makes it (no polling), and hand out loopback addresses
where moto would invent 10.x or 54.214.x ones. Each wrapper calls moto's own method and then the
`HookSink`, or lets the sink decide when and whether moto's method runs (Auto Scaling replacement,
scale-in, terminating a member). One fills a gap in moto's API: UpdateAutoScalingGroup keeps its
TerminationPolicies.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from localcloud.patching import Patches

log = logging.getLogger(__name__)


def hooks_installed() -> bool:
    """Whether a LocalCloud in this process has its hooks in moto (there can be only one)."""
    from moto.ec2.models.instances import Instance

    return getattr(Instance.__dict__.get("terminate"), "_localcloud_patched_by", None) is not None


class HookSink(Protocol):
    """What the patched moto methods report to. Called on moto's request threads: return quickly."""

    def owns_address(self, address: str) -> bool: ...

    def private_address(self) -> str: ...

    def nics_prepared(self, instance: Any, nic_spec: list[dict[str, Any]], ipv6_address_count: Any) -> None:
        """The instance has its interfaces (and its private address); RunInstances asked for these."""

    def public_address(self) -> str: ...

    def instances_launched(self, instances: list[Any]) -> None: ...

    def instance_terminated(self, instance: Any) -> None: ...

    def instance_stopped(self, instance: Any) -> None: ...

    def instance_started(self, instance: Any) -> None: ...

    def address_allocated(self, eip: Any) -> None: ...

    def address_associated(self, eip: Any) -> None: ...

    def address_disassociated(self, eip: Any, instance: Any | None, eni: Any | None) -> None: ...

    def address_released(self, eip: Any, allocation_id: str | None) -> None: ...

    def check_interface(self, subnet: Any, ipv6_addresses: list[str]) -> None:
        """CreateNetworkInterface is about to run: raise the EC2 error for an address it must refuse."""

    def interface_created(self, eni: Any, ipv6_requested: list[str], ipv6_count: Any) -> None: ...

    def check_attach(self, eni: Any, instance: Any) -> None:
        """AttachNetworkInterface is about to run: raise the EC2 error for an attachment it must refuse."""

    def interface_attached(self, eni: Any, instance: Any) -> None: ...

    def interface_detached(self, eni: Any, instance: Any | None) -> None: ...

    def asg_terminations(self, autoscaling: Any, replace: Callable[[list[str]], None], instance_ids: list[str]) -> None:
        """moto would replace these instances now; the sink calls `replace(ids)` for those the group replaces."""

    def asg_launch(self, group: Any, launch: Callable[[int, dict[str, str]], None], count: int,
                   tags: dict[str, str]) -> None:
        """The group launches `count` instances; the sink may split the call to spread them over AZs."""

    def asg_set_desired(self, group: Any, new_capacity: int | None, set_desired: Callable[[], None]) -> None:
        """A new desired capacity; the sink runs moto's `set_desired()` or does the scale-in itself."""

    def asg_terminate_member(self, autoscaling: Any, instance_id: str, decrement: bool,
                             terminate: Callable[[], Any]) -> Any:
        """TerminateInstanceInAutoScalingGroup: moto's `terminate()` (detach, then EC2) or the sink's own way.
        Returns the scaling activity."""

    def asg_health_set(self, autoscaling: Any, instance_id: str, health_status: str) -> None:
        """SetInstanceHealth has set a member's health status (moto stores it and does nothing more)."""

    def asg_deleting(self, group: Any) -> None:
        """DeleteAutoScalingGroup is about to scale the group to zero and forget it."""


class MotoHooks:
    """Install with `install()`, remove with `uninstall()`; one set per process."""

    def __init__(self, sink: HookSink) -> None:
        self._sink = sink
        self._patches = Patches("localcloud.hooks")
        self._plan()

    def install(self) -> None:
        self._patches.install()

    def uninstall(self) -> None:
        self._patches.uninstall()

    def _plan(self) -> None:
        from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
        from moto.autoscaling.responses import AutoScalingResponse
        from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
        from moto.ec2.models.elastic_network_interfaces import NetworkInterface, NetworkInterfaceBackend
        from moto.ec2.models.instances import Instance, InstanceBackend
        from moto.ec2.models.subnets import Subnet

        sink, add = self._sink, self._patches.add

        def wrap(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
            original = getattr(cls, name)
            add(cls, name, functools.wraps(original)(make(original)))

        wrap(Instance, "prep_nics", lambda orig: _prep_nics(orig, sink))
        wrap(Subnet, "request_ip", lambda orig: _request_ip(orig, sink))
        wrap(Subnet, "del_subnet_ip", lambda orig: _del_subnet_ip(orig, sink))
        wrap(NetworkInterface, "check_auto_public_ip", lambda orig: _check_auto_public_ip(orig, sink))
        wrap(InstanceBackend, "run_instances", lambda orig: _run_instances(orig, sink))
        wrap(Instance, "terminate", lambda orig: _after_state(orig, {"terminated"}, sink.instance_terminated))
        wrap(Instance, "stop", lambda orig: _after_state(orig, {"stopped", "terminated"}, sink.instance_stopped))
        wrap(Instance, "start", lambda orig: _after_start(orig, sink))
        wrap(ElasticAddressBackend, "allocate_address", lambda orig: _allocate_address(orig, sink))
        wrap(ElasticAddressBackend, "associate_address", lambda orig: _associate_address(orig, sink))
        wrap(ElasticAddressBackend, "disassociate_address", lambda orig: _disassociate_address(orig, sink))
        wrap(ElasticAddressBackend, "release_address", lambda orig: _release_address(orig, sink))
        wrap(NetworkInterfaceBackend, "create_network_interface", lambda orig: _create_interface(orig, sink))
        wrap(NetworkInterfaceBackend, "attach_network_interface", lambda orig: _attach_interface(orig, sink))
        wrap(NetworkInterfaceBackend, "detach_network_interface", lambda orig: _detach_interface(orig, sink))
        wrap(AutoScalingBackend, "notify_terminate_instances", lambda orig: _asg_terminations(orig, sink))
        wrap(FakeAutoScalingGroup, "replace_autoscaling_group_instances", lambda orig: _asg_launch(orig, sink))
        wrap(FakeAutoScalingGroup, "set_desired_capacity", lambda orig: _asg_set_desired(orig, sink))
        wrap(AutoScalingBackend, "terminate_instance", lambda orig: _asg_terminate_member(orig, sink))
        wrap(AutoScalingBackend, "delete_auto_scaling_group", lambda orig: _asg_delete(orig, sink))
        wrap(AutoScalingBackend, "set_instance_health", lambda orig: _asg_health(orig, sink))
        wrap(AutoScalingResponse, "update_auto_scaling_group", _update_keeps_termination_policies)


def _prep_nics(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def prep_nics(self: Any, nic_spec: list[dict[str, Any]], private_ip: str | None = None,
                  *args: Any, **kwargs: Any) -> Any:
        # Every instance's primary private IPv4 is its own loopback address: the data plane binds it.
        result = orig(self, nic_spec, sink.private_address(), *args, **kwargs)
        sink.nics_prepared(self, nic_spec, kwargs.get("ipv6_address_count"))
        return result
    return prep_nics


def _request_ip(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def request_ip(self: Any, ip: str, instance: Any) -> None:
        if sink.owns_address(ip):  # a loopback address is outside the subnet's CIDR by design
            self._subnet_ips[ip] = instance
            return
        orig(self, ip, instance)
    return request_ip


def _del_subnet_ip(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def del_subnet_ip(self: Any, ip: str) -> None:
        if sink.owns_address(ip):  # never recycled into the subnet's free list (10.x addresses only there)
            self._subnet_ips.pop(ip, None)
            return
        orig(self, ip)
    return del_subnet_ip


def _check_auto_public_ip(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def check_auto_public_ip(self: Any) -> None:
        if self.public_ip_auto_assign and str(self.public_ip_auto_assign).lower() == "true":
            self.public_ip = sink.public_address()  # never moto's 54.214.x.x
    return check_auto_public_ip


def _run_instances(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = orig(self, *args, **kwargs)
        sink.instances_launched(list(reservation.instances))
        return reservation
    return run_instances


def _after_state(orig: Callable[..., Any], unchanged_from: set[str],
                 notify: Callable[[Any], None]) -> Callable[..., Any]:
    def transition(self: Any, *args: Any, **kwargs: Any) -> Any:
        previous = orig(self, *args, **kwargs)
        if previous.name not in unchanged_from:
            notify(self)
        return previous
    return transition


def _after_start(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def start(self: Any) -> Any:
        previous = orig(self)
        if previous.name == "stopped":
            sink.instance_started(self)
        return previous
    return start


def _allocate_address(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def allocate_address(self: Any, domain: str, address: str | None = None,
                         tags: dict[str, str] | None = None) -> Any:
        eip = orig(self, domain, address=address or sink.public_address(), tags=tags)
        sink.address_allocated(eip)
        return eip
    return allocate_address


def _associate_address(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def associate_address(self: Any, *args: Any, **kwargs: Any) -> Any:
        eip = orig(self, *args, **kwargs)
        sink.address_associated(eip)
        return eip
    return associate_address


def _find_eip(backend: Any, address: str | None, association_id: str | None = None,
              allocation_id: str | None = None) -> Any | None:
    for eip in list(backend.addresses):
        if (address and eip.public_ip == address) or (association_id and eip.association_id == association_id) \
                or (allocation_id and eip.allocation_id == allocation_id):
            return eip
    return None


def _disassociate_address(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def disassociate_address(self: Any, address: str | None = None, association_id: str | None = None) -> None:
        eip = _find_eip(self, address, association_id=association_id)
        instance, eni = (eip.instance, eip.eni) if eip is not None else (None, None)
        orig(self, address=address, association_id=association_id)
        if eip is not None and (instance is not None or eni is not None):
            sink.address_disassociated(eip, instance, eni)
    return disassociate_address


def _release_address(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def release_address(self: Any, address: str | None = None, allocation_id: str | None = None) -> None:
        eip = _find_eip(self, address, allocation_id=allocation_id)
        allocation = eip.allocation_id if eip is not None else None
        orig(self, address=address, allocation_id=allocation_id)
        if eip is not None:
            sink.address_released(eip, allocation)
    return release_address


def _create_interface(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def create_network_interface(self: Any, subnet: Any, private_ip_address: Any, *args: Any, **kwargs: Any) -> Any:
        first = private_ip_address[0] if isinstance(private_ip_address, list) and private_ip_address \
            else private_ip_address
        if first and sink.owns_address(str(first)):  # an instance's own interface (prep_nics gave it its address)
            return orig(self, subnet, private_ip_address, *args, **kwargs)
        subnet_obj = self.get_subnet(subnet) if isinstance(subnet, str) else subnet
        requested = [str(a) for a in kwargs.get("ipv6_addresses") or []]
        sink.check_interface(subnet_obj, requested)
        # An interface of its own gets a loopback address, as instances do: moto's 10.x would not route.
        eni = orig(self, subnet, sink.private_address(), *args, **kwargs)
        sink.interface_created(eni, requested, kwargs.get("ipv6_address_count"))
        return eni
    return create_network_interface


def _attach_interface(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def attach_network_interface(self: Any, eni_id: str, instance_id: str, device_index: int) -> Any:
        eni, instance = self.get_network_interface(eni_id), self.get_instance(instance_id)
        sink.check_attach(eni, instance)
        attachment = orig(self, eni_id, instance_id, device_index)
        sink.interface_attached(eni, instance)
        return attachment
    return attach_network_interface


def _detach_interface(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def detach_network_interface(self: Any, attachment_id: str) -> None:
        eni = next((e for e in list(self.enis.values()) if e.attachment_id == attachment_id), None)
        instance = eni.instance if eni is not None else None
        orig(self, attachment_id)
        if eni is not None:
            sink.interface_detached(eni, instance)
    return detach_network_interface


def _asg_terminations(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def notify_terminate_instances(self: Any, instance_ids: list[str]) -> None:
        sink.asg_terminations(self, lambda ids: orig(self, ids), list(instance_ids))
    return notify_terminate_instances


def _asg_launch(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        sink.asg_launch(self, lambda count, tags: orig(self, count, tags), count_needed, propagated_tags)
    return replace_autoscaling_group_instances


def _asg_set_desired(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def set_desired_capacity(self: Any, new_capacity: int | None) -> None:
        sink.asg_set_desired(self, new_capacity, lambda: orig(self, new_capacity))
    return set_desired_capacity


def _asg_terminate_member(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        return sink.asg_terminate_member(self, instance_id, should_decrement,
                                         lambda: orig(self, instance_id, should_decrement))
    return terminate_instance


def _asg_health(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def set_instance_health(self: Any, instance_id: str, health_status: str) -> None:
        orig(self, instance_id, health_status)
        sink.asg_health_set(self, instance_id, health_status)
    return set_instance_health


def _asg_delete(orig: Callable[..., Any], sink: HookSink) -> Callable[..., Any]:
    def delete_auto_scaling_group(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups.get(group_name)
        if group is not None:
            sink.asg_deleting(group)
        orig(self, group_name)
    return delete_auto_scaling_group


def _update_keeps_termination_policies(orig: Callable[..., Any]) -> Callable[..., Any]:
    """moto's UpdateAutoScalingGroup drops TerminationPolicies (CreateAutoScalingGroup keeps them)."""
    def update_auto_scaling_group(self: Any) -> Any:
        result = orig(self)
        policies = self._get_param("TerminationPolicies", [])
        if policies:
            self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")] \
                .termination_policies = list(policies)
        return result
    return update_auto_scaling_group
