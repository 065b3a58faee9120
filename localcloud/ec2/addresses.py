"""Addresses that move between instances, on the data plane: public addresses (Elastic IPs, auto-assigned
public IPv4s) and the private addresses of network interfaces attached after launch.

Such an address black-holes unless it is routed to an instance. An Elastic IP starts to route
`eip.associate_to_traffic` after the AssociateAddress call (an interface `eni.attach_to_traffic` after
AttachNetworkInterface) and black-holes in between, after a disassociation (detachment), and when its
instance is gone. Routing is a `Mirror` of the instance's host, so a terminated instance black-holes
through the address too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from localcloud.events import EIP_ROUTED, EIP_UNROUTED, ENI_ROUTED, ENI_UNROUTED, EventLog
from localcloud.net.hosts import Host, HostTable, Mirror

log = logging.getLogger(__name__)

ASSOCIATE_DELAY = "eip.associate_to_traffic"
ATTACH_DELAY = "eni.attach_to_traffic"


@dataclass(frozen=True)
class Kind:
    """What moves: the profile delay before it routes and the events that say it routes, or no longer does."""

    delay: str
    routed: str
    unrouted: str


PUBLIC = Kind(ASSOCIATE_DELAY, EIP_ROUTED, EIP_UNROUTED)
INTERFACE = Kind(ATTACH_DELAY, ENI_ROUTED, ENI_UNROUTED)


@dataclass
class _Route:
    address: str
    host: Host
    elastic: bool
    target_id: str | None = None
    target_address: str | None = None
    mirror: Mirror | None = None
    timer: asyncio.TimerHandle | None = None
    generation: int = 0


class PublicAddresses:
    """Loop thread only. `kind` says which: Elastic IPs (the default) or attached network interfaces."""

    def __init__(self, loop: asyncio.AbstractEventLoop, hosts: HostTable, events: EventLog,
                 delay: Callable[[str], float], ports: Iterable[int], kind: Kind = PUBLIC) -> None:
        self._kind = kind
        self._loop = loop
        self._hosts = hosts
        self._events = events
        self._delay = delay
        self._ports = tuple(ports)
        self._routes: dict[str, _Route] = {}

    def target_of(self, address: str) -> str | None:
        """The instance an address routes to right now (None while black-holed)."""
        route = self._routes.get(address)
        return route.target_id if route is not None and route.mirror is not None else None

    def routed(self) -> list[tuple[str, Mirror, str]]:
        """(public address, its mirror, instance id) of every address routing right now."""
        return [(r.address, r.mirror, r.target_id) for r in self._routes.values()
                if r.mirror is not None and r.target_id is not None]

    def allocated(self, address: str, *, elastic: bool = True) -> None:
        if address in self._routes:
            return
        try:
            host = self._hosts.add(address, self._ports)
        except Exception:
            log.exception("public address %s gets no data plane", address)
            return
        self._routes[address] = _Route(address, host, elastic)

    def associate(self, address: str, instance_id: str, target_address: str) -> None:
        """Route `address` to the instance after the profile's association delay (black hole until then)."""
        route = self._routes.get(address)
        if route is None:
            return
        if route.target_id == instance_id and route.target_address == target_address:
            return  # re-associating to the same instance changes nothing on the wire
        self._unroute(route, "reassociated")
        route.target_id, route.target_address = instance_id, target_address
        delay = self._delay(self._kind.delay)
        route.timer = self._loop.call_later(delay, self._route, route, route.generation, delay)

    def route_now(self, address: str, instance_id: str, target_address: str) -> None:
        """An auto-assigned public IPv4: created with the instance, routed from the start."""
        self.allocated(address, elastic=False)
        route = self._routes.get(address)
        if route is not None:
            route.target_id, route.target_address = instance_id, target_address
            self._route(route, route.generation, 0.0)

    def disassociate(self, address: str, reason: str) -> None:
        route = self._routes.get(address)
        if route is not None:
            self._unroute(route, reason)

    def instance_gone(self, instance_id: str, reason: str) -> None:
        for route in self._routes.values():
            if route.target_id == instance_id:
                self._unroute(route, reason)

    def drop_auto_addresses(self, instance_id: str) -> None:
        """The instance got an Elastic IP: its auto-assigned public IPv4 goes away (as on EC2)."""
        for route in self._routes.values():
            if not route.elastic and route.target_id == instance_id:
                self._unroute(route, "replaced by an Elastic IP")

    def close(self) -> None:
        for route in self._routes.values():
            if route.timer is not None:
                route.timer.cancel()
            if route.mirror is not None:
                route.mirror.detach()
        self._routes.clear()

    def _route(self, route: _Route, generation: int, delay: float) -> None:
        route.timer = None
        if generation != route.generation or route.target_address is None:
            return
        target = self._hosts.get(route.target_address)
        if target is None:
            log.warning("%s cannot route to %s: no such host", route.address, route.target_address)
            return
        route.mirror = Mirror(route.host, target)
        route.mirror.attach()
        if route.elastic:
            self._events.emit(self._kind.routed, route.address, instance=route.target_id,
                              private_address=route.target_address, delay_s=round(delay, 3))

    def _unroute(self, route: _Route, reason: str) -> None:
        route.generation += 1
        if route.timer is not None:
            route.timer.cancel()
            route.timer = None
        was_routed, target = route.mirror is not None, route.target_id
        if route.mirror is not None:
            route.mirror.detach()
            route.mirror = None
        route.target_id = route.target_address = None
        if was_routed and route.elastic:
            self._events.emit(self._kind.unrouted, route.address, instance=target, reason=reason)
