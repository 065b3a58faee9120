"""PortListener on real loopback sockets: serve, black-hole (SYN dropped: connect hangs), freeze, close."""

import socket
from collections.abc import Iterator

import pytest

from localcloud.ec2.app import app_factory
from localcloud.loop import LoopThread
from localcloud.net.hosts import HostTable, Mirror
from localcloud.net.listener import Mode, PortListener
from localcloud.net.pool import AddressPool

SHORT = 0.3  # seconds a client waits for a TCP handshake that a black hole never completes


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread(name="test-loop")
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def pool() -> Iterator[AddressPool]:
    claimed = AddressPool()
    claimed.claim()
    try:
        yield claimed
    finally:
        claimed.close()


def connect_outcome(address: str, port: int) -> str:
    try:
        with socket.create_connection((address, port), timeout=SHORT):
            return "connected"
    except TimeoutError:
        return "hangs"
    except ConnectionRefusedError:
        return "refused"


def get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    return sock.recv(4096)


def test_a_new_listener_black_holes_then_serves_then_black_holes_again(loop_thread: LoopThread,
                                                                        pool: AddressPool) -> None:
    address = pool.allocate("test")
    listener = loop_thread.call(lambda: PortListener(loop_thread.loop, address, 8080))
    loop_thread.call(listener.open)
    try:
        before = connect_outcome(address, 8080)
        loop_thread.call(listener.serve, app_factory("i-test"))
        with socket.create_connection((address, 8080), timeout=2) as sock:
            served = get(sock)
        loop_thread.call(listener.blackhole)
        after = connect_outcome(address, 8080)
    finally:
        loop_thread.call(listener.close)

    assert before == "hangs" and after == "hangs"
    assert served.startswith(b"HTTP/1.1 200 OK") and b"X-Served-By: i-test" in served
    assert connect_outcome(address, 8080) == "refused"  # closed: nothing listens any more


def test_an_open_connection_freezes_when_the_address_black_holes(loop_thread: LoopThread,
                                                                 pool: AddressPool) -> None:
    address = pool.allocate("test")
    listener = loop_thread.call(lambda: PortListener(loop_thread.loop, address, 8080))
    loop_thread.call(listener.open)
    loop_thread.call(listener.serve, app_factory("i-test"))
    try:
        with socket.create_connection((address, 8080), timeout=2) as sock:
            first = get(sock)
            loop_thread.call(listener.blackhole)
            sock.settimeout(SHORT)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(4096)
    finally:
        loop_thread.call(listener.close)

    assert first.startswith(b"HTTP/1.1 200")


def test_a_client_waiting_in_the_black_hole_gets_through_once_service_returns(loop_thread: LoopThread,
                                                                              pool: AddressPool) -> None:
    address = pool.allocate("test")
    listener = loop_thread.call(lambda: PortListener(loop_thread.loop, address, 8080))
    loop_thread.call(listener.open)
    try:
        waiting = socket.socket()
        waiting.settimeout(10)  # the kernel retries the SYN after about 1 s
        waiting.setblocking(False)
        waiting.connect_ex((address, 8080))
        loop_thread.call(listener.serve, app_factory("i-late"))
        waiting.setblocking(True)
        waiting.settimeout(10)
        with waiting:
            answer = get(waiting)
    finally:
        loop_thread.call(listener.close)

    assert b"X-Served-By: i-late" in answer


def test_a_mirror_follows_its_target(loop_thread: LoopThread, pool: AddressPool) -> None:
    instance, public = pool.allocate("instance"), pool.allocate("eip")

    def build() -> tuple[HostTable, Mirror]:
        hosts = HostTable(loop_thread.loop)
        mirror = Mirror(hosts.add(public, (8080,)), hosts.add(instance, (8080,)))
        mirror.attach()
        return hosts, mirror

    hosts, mirror = loop_thread.call(build)
    try:
        target_down = connect_outcome(public, 8080)
        loop_thread.call(mirror.target.serve, 8080, app_factory("i-target"))
        with socket.create_connection((public, 8080), timeout=2) as sock:
            through = get(sock)
        loop_thread.call(mirror.target.blackhole_all)
        target_gone = connect_outcome(public, 8080)
        loop_thread.call(mirror.target.serve, 8080, app_factory("i-target"))
        loop_thread.call(mirror.detach)
        detached = connect_outcome(public, 8080)
        public_mode = loop_thread.call(lambda: mirror.public.listener(8080).mode)  # type: ignore[union-attr]
    finally:
        loop_thread.call(hosts.close_all)

    assert (target_down, target_gone, detached) == ("hangs", "hangs", "hangs")
    assert b"X-Served-By: i-target" in through
    assert public_mode is Mode.BLACKHOLE


def test_a_port_the_target_does_not_serve_in_process_is_forwarded_over_tcp(loop_thread: LoopThread,
                                                                           pool: AddressPool) -> None:
    instance, public = pool.allocate("instance"), pool.allocate("eip")
    external = socket.create_server((instance, 9000))  # e.g. a real HAProxy on the instance's address

    def build() -> HostTable:
        hosts = HostTable(loop_thread.loop)
        Mirror(hosts.add(public, (9000,)), hosts.add(instance, (8080,))).attach()
        return hosts

    hosts = loop_thread.call(build)
    try:
        with external, socket.create_connection((public, 9000), timeout=2) as client:
            upstream, _ = external.accept()
            with upstream:
                client.sendall(b"ping")
                upstream.settimeout(2)
                received = upstream.recv(4)
                upstream.sendall(b"pong")
                client.settimeout(2)
                answered = client.recv(4)
    finally:
        loop_thread.call(hosts.close_all)

    assert (received, answered) == (b"ping", b"pong")
