"""Security groups and network ACLs on the data plane, for traffic from the internet to public addresses.

Every `interval` the firewall evaluates, for each routed public address and port, the instance's
security groups (stateful: a block drops new SYNs, established connections live on: connection
tracking) and its subnet's network ACL (stateless: a block also freezes established connections, since
their packets are dropped both ways). A blocked port black-holes; it is never refused. The client is
"the internet": a rule matches when its CIDR contains `INTERNET_CLIENT` (an address only compared, never
contacted). Instances whose security groups moto dropped (none at all) are not filtered by groups.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from localcloud.ec2 import moto_state
from localcloud.net.listener import Mode, PortListener

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger(__name__)

FIREWALL_EVENT = "localcloud.net.firewall"
INTERNET_CLIENT = ipaddress.ip_address("198.51.100.7")  # TEST-NET-2: stands for "any client out there"
CLIENT_EPHEMERAL_PORT = 50000  # where stateless return traffic goes


class Verdict(StrEnum):
    OPEN = "open"
    NEW_DROPPED = "new-dropped"  # security group: new connections black-hole, established ones live
    CUT = "cut"  # network ACL: everything black-holes, established connections freeze


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    mechanism: str  # "" | "security-group" | "network-acl"


def decide(instance: Any, port: int) -> Decision:
    """What the instance's network ACL and security groups do to a new TCP connection to `port`."""
    nic = moto_state.primary_nic(instance)
    acl = _acl_of(nic)
    if acl is not None and not (_acl_allows(acl, egress=False, port=port)
                                and _acl_allows(acl, egress=True, port=CLIENT_EPHEMERAL_PORT)):
        return Decision(Verdict.CUT, "network-acl")
    groups = list(nic.group_set) if nic is not None else []
    if groups and not any(_group_allows(group, port) for group in groups):
        return Decision(Verdict.NEW_DROPPED, "security-group")
    return Decision(Verdict.OPEN, "")


def _acl_of(nic: Any) -> Any | None:
    subnet = getattr(nic, "subnet", None)
    if subnet is None:
        return None
    for acl in list(nic.ec2_backend.network_acls.values()):
        if any(a.subnet_id == subnet.id for a in acl.associations):
            return acl
    return None


def _acl_allows(acl: Any, *, egress: bool, port: int) -> bool:
    entries = [e for e in list(acl.network_acl_entries) if _flag(e.egress) == egress]
    for entry in sorted(entries, key=lambda e: int(e.rule_number)):
        if str(entry.protocol) not in ("-1", "6", "tcp", "all"):
            continue
        if entry.port_range_from is not None and not int(entry.port_range_from) <= port <= int(entry.port_range_to):
            continue
        if entry.cidr_block and _contains(entry.cidr_block):
            return str(entry.rule_action) == "allow"
    return False  # the implicit final deny


def _group_allows(group: Any, port: int) -> bool:
    for rule in list(group.ingress_rules):
        if rule.ip_protocol not in ("-1", "tcp"):
            continue
        if rule.ip_protocol == "tcp" and not int(rule.from_port) <= port <= int(rule.to_port):
            continue
        if _contains(rule.ip_range.get("CidrIp", "")):
            return True
    return False


def _contains(cidr: str) -> bool:
    try:
        return INTERNET_CLIENT in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def apply(listener: PortListener, verdict: Verdict, reopen: Callable[[], None]) -> None:
    """Put a public port into the verdict's mode (loop thread); OPEN hands it back to its route."""
    if verdict is Verdict.CUT:
        listener.blackhole()
    elif verdict is Verdict.NEW_DROPPED:
        listener.drop_new()
    else:
        reopen()


class Firewall:
    """A localcloud Service: evaluates every routed public address on the data-plane loop."""

    def __init__(self, cloud: LocalCloud, interval: float = 0.1) -> None:
        self._cloud = cloud
        self._interval = interval
        self._applied: dict[tuple[str, int], Decision] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self._cloud.loop.call(lambda: asyncio.ensure_future(self._run()))

    def stop(self) -> None:
        task = self._task
        if task is not None and self._cloud.loop.running:
            self._cloud.loop.call(task.cancel)
        self._task = None

    def describe(self) -> dict[str, Any]:
        return {"blocked": {f"{a}:{p}": {"verdict": d.verdict.value, "mechanism": d.mechanism}
                            for (a, p), d in sorted(self._applied.items()) if d.verdict is not Verdict.OPEN}}

    async def _run(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:  # moto mid-change: evaluate again next round
                log.exception("firewall evaluation failed")
            await asyncio.sleep(self._interval)

    def _tick(self) -> None:
        physics = self._cloud.physics
        seen: set[tuple[str, int]] = set()
        for address, mirror, instance_id in physics.addresses.routed():
            instance = physics.fleet.instance_of(instance_id)
            if instance is None:
                continue
            for port in mirror.public.ports:
                listener = mirror.public.listener(port)
                if listener is None:
                    continue
                key = (address, port)
                seen.add(key)
                self._enforce(key, listener, decide(instance, port), instance_id,
                              functools.partial(mirror.refresh, port))
        for key in [k for k in self._applied if k not in seen]:
            del self._applied[key]  # unrouted: the address black-holes anyway, and re-routing starts open

    def _enforce(self, key: tuple[str, int], listener: PortListener, decision: Decision, instance_id: str,
                 reopen: Callable[[], None]) -> None:
        before = self._applied.get(key, Decision(Verdict.OPEN, ""))
        # Re-apply a block whenever the port is serving again (a Mirror follows its target's listener).
        if decision == before and (decision.verdict is Verdict.OPEN or listener.mode is not Mode.SERVE):
            return
        apply(listener, decision.verdict, reopen)
        self._applied[key] = decision
        if decision != before:
            self._cloud.events.emit(FIREWALL_EVENT, key[0], port=key[1], instance=instance_id,
                                    verdict=decision.verdict.value,
                                    mechanism=decision.mechanism or before.mechanism)
