"""The hook sink: turns moto's EC2 and Auto Scaling API calls into ground-truth events and data-plane work.

Hook methods run on moto's request threads: they change moto's own objects (an instance is
`pending` in the very response that created it), record the event, and have the data-plane loop
apply the rest before the API call returns.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.ec2.addresses import INTERFACE, PublicAddresses
from localcloud.ec2.autoscaling import AutoScaling, TerminationHooks
from localcloud.ec2.instances import Fleet, FleetConfig, Launch
from localcloud.ec2.spot import SpotCapacity, SpotInterruptions
from localcloud.ec2.zones import INSTANCE_IMPAIRED, ZONE_LOST, ZONE_RESTORED, ZoneOutages, group_members, instances_in
from localcloud.events import (
    ASG_LAUNCH,
    EIP_ALLOCATED,
    EIP_ASSOCIATED,
    EIP_DISASSOCIATED,
    EIP_RELEASED,
    ENI_ATTACHED,
    ENI_CREATED,
    ENI_DETACHED,
    INSTANCE_PENDING,
    INSTANCE_STOPPED,
    INSTANCE_TERMINATED,
    EventLog,
)
from localcloud.loop import LoopThread
from localcloud.net.hosts import HostTable
from localcloud.net.pool import AddressPool
from localcloud.profiles import Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhysicsConfig:
    fleet: FleetConfig
    public_ports: tuple[int, ...] = (80,)  # ports an Elastic IP forwards (HAProxy stacks add 443, 9000)


class Ec2Physics:
    def __init__(self, loop: LoopThread, pool: AddressPool, events: EventLog, profile: Profile,
                 rng: random.Random, control: Executor, config: PhysicsConfig) -> None:
        self._loop = loop
        self._pool = pool
        self._events = events
        self._profile = profile
        self._rng = rng
        self._control = control
        self._config = config
        self._hosts: HostTable | None = None
        self._fleet: Fleet | None = None
        self._addresses: PublicAddresses | None = None
        self._interfaces: PublicAddresses | None = None  # addresses of interfaces attached after launch
        self._asg: AutoScaling | None = None
        self._spot: SpotInterruptions | None = None
        self.capacity = SpotCapacity()  # which Spot pools have capacity (the control API writes it)
        self.zones = ZoneOutages()  # which availability zones are lost (the control API writes it)
        self._closed = False

    # --- lifecycle (any thread except the loop's) ---

    def start(self) -> None:
        self._loop.call(self._start_on_loop)

    def _start_on_loop(self) -> None:
        loop = asyncio.get_running_loop()
        self._hosts = HostTable(loop)
        self._fleet = Fleet(loop, self._hosts, self._events, self.delay, self._config.fleet)
        self._addresses = PublicAddresses(loop, self._hosts, self._events, self.delay, self._config.public_ports)
        # An interface's address answers on the instance's app port and forwards the public ports' servers.
        interface_ports = tuple(dict.fromkeys((self._config.fleet.app_port, *self._config.public_ports)))
        self._interfaces = PublicAddresses(loop, self._hosts, self._events, self.delay, interface_ports, INTERFACE)
        self._asg = AutoScaling(loop, self._events, self.delay, self._control, random.Random(self._rng.random()),
                                self.capacity, self.zones)
        self._spot = SpotInterruptions(loop, self._fleet, self._events, self.delay, self._control)

    def close(self) -> None:
        if self._loop.running and self._hosts is not None:
            self._loop.run(self._close_on_loop(), timeout=30.0)

    async def _close_on_loop(self) -> None:
        self._closed = True  # work posted by a request still in flight is dropped from here on
        if self._spot is not None:
            self._spot.close()
        if self._asg is not None:
            self._asg.close()
        if self._fleet is not None:
            await self._fleet.close()
        if self._addresses is not None:
            self._addresses.close()
        if self._interfaces is not None:
            self._interfaces.close()
        if self._hosts is not None:
            self._hosts.close_all()
        self._hosts = None

    def delay(self, key: str) -> float:
        """One sample of a profile delay (loop thread: the seeded sequence stays reproducible)."""
        return self._profile.delay(key).sample(self._rng)

    # --- read-only views for the control API and tests (loop thread) ---

    @property
    def fleet(self) -> Fleet:
        assert self._fleet is not None, "physics not started"
        return self._fleet

    @property
    def spot(self) -> SpotInterruptions:
        assert self._spot is not None, "physics not started"
        return self._spot

    @property
    def addresses(self) -> PublicAddresses:
        assert self._addresses is not None, "physics not started"
        return self._addresses

    @property
    def interfaces(self) -> PublicAddresses:
        assert self._interfaces is not None, "physics not started"
        return self._interfaces

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the loop and wait: when the API call returns, the data plane has changed too
        (a client connecting right after AssociateAddress already finds the black hole)."""
        def run() -> None:
            if not self._closed:
                fn(*args)
        try:
            self._loop.call(run, timeout=10.0)
        except Exception:
            log.exception("data-plane update %s failed", getattr(fn, "__name__", fn))

    # --- HookSink (moto request threads) ---

    def owns_address(self, address: str) -> bool:
        return address in self._pool

    def private_address(self) -> str:
        return self._pool.allocate("instance")

    def public_address(self) -> str:
        return self._pool.allocate("public")

    def nics_prepared(self, instance: Any, nic_spec: list[dict[str, Any]], ipv6_address_count: Any) -> None:
        if moto_state.asks_for_ipv6(nic_spec, ipv6_address_count):
            moto_state.give_ipv6(instance)

    def instances_launched(self, instances: list[Any]) -> None:
        for inst in instances:
            moto_state.set_state(inst, "pending")
            moto_state.apply_launch_template(inst)
            if moto_state.wants_ipv6(inst):
                moto_state.give_ipv6(inst)
            asg = moto_state.asg_name(inst)
            if asg:
                self._events.emit(ASG_LAUNCH, inst.id, asg=asg, instance=inst.id)
            address, public = moto_state.private_ip(inst), moto_state.public_ip(inst)
            self._events.emit(INSTANCE_PENDING, inst.id, address=address, public_address=public, asg=asg,
                              availability_zone=str(inst.placement.zone), subnet=inst.subnet_id,
                              ipv6_address=moto_state.ipv6(inst))
            launch = Launch(inst, inst.id, address, asg, moto_state.user_data(inst))
            self._post(self._launched, launch, public)

    def _launched(self, launch: Launch, public: str | None) -> None:
        self.fleet.launched(launch)
        if public:
            self.addresses.route_now(public, launch.instance_id, launch.address)

    def instance_terminated(self, instance: Any) -> None:
        self._events.emit(INSTANCE_TERMINATED, instance.id, address=moto_state.private_ip(instance),
                          asg=moto_state.asg_name(instance))
        self._post(self._gone, instance.id, "terminated")  # first: routes end with the right reason
        for eni in moto_state.attached_later(instance):  # EC2 detaches them: available for the next instance
            moto_state.detach(instance, eni)
            self._events.emit(ENI_DETACHED, eni.id, instance=instance.id, address=eni.private_ip_address,
                              reason="instance terminated")
        backend = instance.ec2_backend
        for eip in list(backend.addresses):  # EC2 disassociates a terminated instance's Elastic IPs
            if eip.instance is instance or (eip.eni is not None and eip.eni.instance is instance):
                backend.disassociate_address(address=eip.public_ip)

    def _gone(self, instance_id: str, why: str) -> None:
        self.addresses.drop_auto_addresses(instance_id)
        if why == "terminated":
            self.fleet.terminated(instance_id)
            self.addresses.instance_gone(instance_id, "instance terminated")
            self.interfaces.instance_gone(instance_id, "instance terminated")
        else:  # a stopped instance keeps its Elastic IP; the route black-holes with the instance
            self.fleet.stopped(instance_id)

    def instance_stopped(self, instance: Any) -> None:
        self._events.emit(INSTANCE_STOPPED, instance.id, address=moto_state.private_ip(instance),
                          asg=moto_state.asg_name(instance))
        self._post(self._gone, instance.id, "stopped")

    def instance_started(self, instance: Any) -> None:
        moto_state.set_state(instance, "pending")
        public = moto_state.public_ip(instance)
        self._events.emit(INSTANCE_PENDING, instance.id, address=moto_state.private_ip(instance),
                          public_address=public, asg=moto_state.asg_name(instance), restart=True)
        self._post(self._restarted, instance.id, moto_state.private_ip(instance), public)

    def _restarted(self, instance_id: str, address: str, public: str | None) -> None:
        self.fleet.started(instance_id)
        if public and self.addresses.target_of(public) is None:
            self.addresses.route_now(public, instance_id, address)

    def address_allocated(self, eip: Any) -> None:
        self._events.emit(EIP_ALLOCATED, eip.public_ip, allocation_id=eip.allocation_id, domain=eip.domain)
        self._post(lambda: self.addresses.allocated(eip.public_ip))

    def address_associated(self, eip: Any) -> None:
        instance = eip.instance or (eip.eni.instance if eip.eni is not None else None)
        if instance is None:
            return
        target = eip.eni.private_ip_address if eip.eni is not None else moto_state.private_ip(instance)
        self._events.emit(EIP_ASSOCIATED, eip.public_ip, instance=instance.id, private_address=target,
                          allocation_id=eip.allocation_id, association_id=eip.association_id)
        self._post(self._associated, eip.public_ip, instance.id, target)

    def _associated(self, address: str, instance_id: str, target: str) -> None:
        self.addresses.drop_auto_addresses(instance_id)
        self.addresses.associate(address, instance_id, target)

    def address_disassociated(self, eip: Any, instance: Any | None, eni: Any | None) -> None:
        if instance is None and eni is not None:
            instance = eni.instance
        self._events.emit(EIP_DISASSOCIATED, eip.public_ip, instance=instance.id if instance is not None else None)
        self._post(lambda: self.addresses.disassociate(eip.public_ip, "disassociated"))
        if eni is not None and eni.public_ip and eni.public_ip != eip.public_ip and eni.instance is not None:
            # the instance falls back to an auto-assigned public IPv4
            public, instance_id, private = eni.public_ip, eni.instance.id, eni.private_ip_address
            self._post(lambda: self.addresses.route_now(public, instance_id, private))

    def address_released(self, eip: Any, allocation_id: str | None) -> None:
        self._events.emit(EIP_RELEASED, eip.public_ip, allocation_id=allocation_id)
        self._post(lambda: self.addresses.disassociate(eip.public_ip, "released"))

    def check_interface(self, subnet: Any, ipv6_addresses: list[str]) -> None:
        """CreateNetworkInterface's own IPv6 addresses must lie in the subnet's IPv6 blocks, as EC2 requires."""
        blocks = [ipaddress.IPv6Network(b) for b in moto_state.subnet_ipv6_blocks(subnet)]
        for address in ipv6_addresses:
            try:
                inside = any(ipaddress.IPv6Address(address) in block for block in blocks)
            except ValueError:
                inside = False
            if not inside:
                raise moto_state.ipv6_outside_subnet_error(address, subnet)

    def interface_created(self, eni: Any, ipv6_requested: list[str], ipv6_count: Any) -> None:
        """An interface of its own: its address is a loopback host (black-holed until attached), and the IPv6
        address asked for is the mapped form of it, as every IPv6 address on localcloud is (the subnet's
        block is not routable on loopback; `requested_ipv6` keeps what was asked)."""
        if ipv6_requested or moto_state.asks_for_ipv6([], ipv6_count):
            eni.ipv6_addresses = [moto_state.mapped_ipv6(eni.private_ip_address)]
        self._events.emit(ENI_CREATED, eni.id, address=eni.private_ip_address, ipv6_address=list(eni.ipv6_addresses),
                          requested_ipv6=list(ipv6_requested), subnet=eni.subnet.id,
                          availability_zone=str(eni.subnet.availability_zone))
        self._post(lambda: self.interfaces.allocated(eni.private_ip_address))

    def check_attach(self, eni: Any, instance: Any) -> None:
        """As EC2 refuses: an interface attached elsewhere, or in another zone than the instance."""
        current = moto_state.holder(eni)
        if current is not None:
            raise moto_state.in_use_error(eni.id)
        if str(eni.subnet.availability_zone) != moto_state.instance_zone(instance):
            raise moto_state.zone_mismatch_error(eni, instance)

    def interface_attached(self, eni: Any, instance: Any) -> None:
        address, target = eni.private_ip_address, moto_state.private_ip(instance)
        self._events.emit(ENI_ATTACHED, eni.id, instance=instance.id, address=address,
                          ipv6_address=list(eni.ipv6_addresses), attachment=eni.attachment_id,
                          device_index=eni.device_index)
        self._post(lambda: self.interfaces.associate(address, instance.id, target))

    def interface_detached(self, eni: Any, instance: Any | None) -> None:
        self._events.emit(ENI_DETACHED, eni.id, instance=instance.id if instance is not None else None,
                          address=eni.private_ip_address, reason="detached")
        self._post(lambda: self.interfaces.disassociate(eni.private_ip_address, "detached"))

    def asg_terminations(self, autoscaling: Any, replace: Callable[[list[str]], None], instance_ids: list[str]) -> None:
        members = moto_state.instances_of(autoscaling, instance_ids)
        if not members:
            replace(list(instance_ids))
            return
        # a member already on its way out stays until its terminating lifecycle actions end
        counted = {iid: st for iid, st in members.items() if st.lifecycle_state not in moto_state.LEAVING}
        if counted:
            self._post(self._asg_terminated, counted, replace)

    def _asg_terminated(self, members: dict[str, Any], replace: Callable[[list[str]], None]) -> None:
        assert self._asg is not None
        self._asg.terminated(members, replace)

    def asg_launch(self, group: Any, launch: Callable[[int, dict[str, str]], None], count: int,
                   tags: dict[str, str]) -> None:
        if self._asg is None:
            launch(count, tags)
            return
        self._asg.launch(group, launch, count, tags)

    def asg_set_desired(self, group: Any, new_capacity: int | None, set_desired: Callable[[], None]) -> None:
        if self._asg is None:
            set_desired()
            return
        self._asg.set_desired(group, new_capacity, set_desired)

    def asg_terminate_member(self, autoscaling: Any, instance_id: str, decrement: bool,
                             terminate: Callable[[], Any]) -> Any:
        member = moto_state.instances_of(autoscaling, [instance_id]).get(instance_id)
        if self._asg is None or member is None:
            return terminate()
        return self._asg.terminate_member(member, decrement, terminate)

    def asg_health_set(self, autoscaling: Any, instance_id: str, health_status: str) -> None:
        member = moto_state.instances_of(autoscaling, [instance_id]).get(instance_id)
        if self._asg is not None and member is not None and health_status == "Unhealthy":
            self._post(self._asg.health_set, member)

    # --- lost zones (the control API, on the loop thread) ---

    def zone_lost(self, zone: str) -> None:
        """The zone becomes unavailable: its instances go down (EC2 still says running) and their groups replace
        them once their status checks have failed long enough (localcloud.ec2.zones)."""
        if not self.zones.set_lost(zone, True):
            return
        instances = instances_in(zone)
        self._events.emit(ZONE_LOST, zone, instances=[inst.id for inst in instances])
        for inst in instances:
            self._events.emit(INSTANCE_IMPAIRED, inst.id, availability_zone=zone, asg=moto_state.asg_name(inst))
            self.fleet.stopped(inst.id)  # powered off on the data plane, as a stop is; moto keeps it running
        members = group_members(instances)
        if members and self._asg is not None:
            self._asg.impaired(members)

    def zone_restored(self, zone: str) -> None:
        if self.zones.set_lost(zone, False):
            self._events.emit(ZONE_RESTORED, zone)

    def asg_deleting(self, group: Any) -> None:
        if self._asg is not None:
            self._asg.deleting(group)

    def use_termination_hooks(self, hooks: TerminationHooks | None) -> None:
        """Who holds the members groups terminate (the lifecycle service, while it runs)."""
        assert self._asg is not None, "physics not started"
        self._asg.termination_hooks = hooks
