"""Security groups and network ACLs on the data plane: the rule evaluation, and what a block does to new
and to established connections (security groups keep them, network ACLs cut them)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.ec2.app import app_factory
from localcloud.loop import LoopThread
from localcloud.net.firewall import Verdict, apply, decide
from localcloud.net.listener import PortListener
from localcloud.net.pool import AddressPool
from tests.localcloud.support import connect_outcome, http_get


def _rule(protocol: str, low: int | None, high: int | None, cidr: str) -> Any:
    return SimpleNamespace(ip_protocol=protocol, from_port=low, to_port=high, ip_range={"CidrIp": cidr})


def _entry(number: int, action: str, *, egress: bool, cidr: str = "0.0.0.0/0", protocol: str = "-1",
           ports: tuple[int, int] | None = None) -> Any:
    return SimpleNamespace(rule_number=number, rule_action=action, egress=egress, cidr_block=cidr, protocol=protocol,
                           port_range_from=ports[0] if ports else None, port_range_to=ports[1] if ports else None)


def _instance(rules: list[Any], entries: list[Any] | None) -> Any:
    subnet = SimpleNamespace(id="subnet-1")
    acls = {} if entries is None else {
        "acl-1": SimpleNamespace(associations=[SimpleNamespace(subnet_id="subnet-1")], network_acl_entries=entries)}
    backend = SimpleNamespace(network_acls=acls)
    nic = SimpleNamespace(subnet=subnet, ec2_backend=backend,
                          group_set=[SimpleNamespace(ingress_rules=rules)] if rules is not None else [])
    return SimpleNamespace(nics={0: nic})


DEFAULT_ACL = [_entry(100, "allow", egress=False), _entry(32767, "deny", egress=False),
               _entry(100, "allow", egress=True), _entry(32767, "deny", egress=True)]
PROXY_SG = [_rule("tcp", 443, 443, "0.0.0.0/0"), _rule("tcp", 9000, 9000, "0.0.0.0/0")]


def test_an_open_security_group_and_the_default_acl_let_clients_in() -> None:
    assert decide(_instance(PROXY_SG, DEFAULT_ACL), 443).verdict is Verdict.OPEN


def test_a_port_no_group_rule_allows_drops_new_connections() -> None:
    decision = decide(_instance(PROXY_SG, DEFAULT_ACL), 80)
    assert (decision.verdict, decision.mechanism) == (Verdict.NEW_DROPPED, "security-group")


def test_a_quarantine_group_without_rules_drops_new_connections() -> None:
    assert decide(_instance([], DEFAULT_ACL), 443).verdict is Verdict.NEW_DROPPED


def test_a_rule_for_a_private_cidr_does_not_admit_the_internet() -> None:
    assert decide(_instance([_rule("tcp", 443, 443, "10.0.0.0/8")], DEFAULT_ACL), 443).verdict is Verdict.NEW_DROPPED


def test_fis_style_acl_cuts_everything_from_outside_the_subnet() -> None:
    fis = [_entry(1, "allow", egress=False, cidr="10.43.2.0/24"), _entry(2, "deny", egress=False),
           _entry(1, "allow", egress=True, cidr="10.43.2.0/24"), _entry(2, "deny", egress=True), *DEFAULT_ACL]
    decision = decide(_instance(PROXY_SG, fis), 443)
    assert (decision.verdict, decision.mechanism) == (Verdict.CUT, "network-acl")


def test_an_acl_without_egress_for_return_traffic_cuts_too() -> None:
    inbound_only = [_entry(100, "allow", egress=False), _entry(100, "allow", egress=True, ports=(443, 443))]
    assert decide(_instance(PROXY_SG, inbound_only), 443).verdict is Verdict.CUT


def test_an_instance_whose_groups_moto_dropped_is_not_filtered_by_groups() -> None:
    assert decide(_instance(None, None), 80).verdict is Verdict.OPEN  # type: ignore[arg-type]


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[LoopThread, PortListener, str]]:
    pool = AddressPool()
    pool.claim()
    thread = LoopThread(name="test-firewall")
    thread.start()
    address = pool.allocate_service("firewall-test")
    listener = thread.call(lambda: PortListener(thread.loop, address, 8080))
    try:
        thread.call(listener.open)
        thread.call(lambda: listener.serve(app_factory("i-firewall")))
        yield thread, listener, address
    finally:
        thread.call(listener.close)
        thread.stop()
        pool.close()


def _keepalive_get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock.recv(4096)


def _reopen() -> None:
    raise AssertionError("not reopened in this test")


def test_a_security_group_block_keeps_established_connections(served: tuple[LoopThread, PortListener, str]) -> None:
    thread, listener, address = served
    with socket.create_connection((address, 8080), timeout=2) as established:
        assert b"200" in _keepalive_get(established)
        thread.call(lambda: apply(listener, Verdict.NEW_DROPPED, _reopen))
        assert connect_outcome(address, 8080) == "hangs"
        assert b"200" in _keepalive_get(established)


def test_a_network_acl_block_cuts_established_connections(served: tuple[LoopThread, PortListener, str]) -> None:
    thread, listener, address = served
    with socket.create_connection((address, 8080), timeout=2) as established:
        assert b"200" in _keepalive_get(established)
        thread.call(lambda: apply(listener, Verdict.NEW_DROPPED, _reopen))
        thread.call(lambda: apply(listener, Verdict.CUT, _reopen))  # after a group block, as in a game day
        established.settimeout(0.5)
        with pytest.raises(TimeoutError):
            _keepalive_get(established)
        assert connect_outcome(address, 8080) == "hangs"


def test_lifting_a_block_hands_the_port_back(served: tuple[LoopThread, PortListener, str]) -> None:
    thread, listener, address = served
    factory = listener.factory
    assert factory is not None
    thread.call(lambda: apply(listener, Verdict.NEW_DROPPED, _reopen))
    thread.call(lambda: apply(listener, Verdict.OPEN, lambda: listener.serve(factory)))
    assert http_get(address, port=8080)[0] == 200
