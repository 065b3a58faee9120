"""A port localcloud leaves to an instance's own server (release, reclaim, a Mirror forwarding to it), and
finding and killing what an instance's user data left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from localcloud.ec2 import processes
from localcloud.ec2.app import app_factory
from localcloud.loop import LoopThread
from localcloud.net.hosts import HostTable, Mirror
from localcloud.net.listener import Mode
from localcloud.net.pool import AddressPool
from tests.localcloud.support import connect_outcome, process_gone


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


def answer(sock: socket.socket) -> bytes:
    sock.sendall(b"ping")
    sock.settimeout(2)
    return sock.recv(4)


def test_a_released_port_is_free_for_another_process_and_a_mirror_forwards_to_it(loop_thread: LoopThread,
                                                                                  pool: AddressPool) -> None:
    instance, public = pool.allocate("instance"), pool.allocate("eip")

    def build() -> HostTable:
        hosts = HostTable(loop_thread.loop)
        Mirror(hosts.add(public, (8080,)), hosts.add(instance, (8080,))).attach()
        return hosts

    hosts = loop_thread.call(build)
    target = hosts.get(instance)
    assert target is not None
    try:
        loop_thread.call(target.serve, 8080, app_factory("i-builtin"))
        loop_thread.call(target.release, 8080)
        released = (connect_outcome(instance, 8080),
                    loop_thread.call(lambda: hosts.get(public).listener(8080).mode))  # type: ignore[union-attr]
        with socket.create_server((instance, 8080)) as own:  # the user's server binds the port
            with socket.create_connection((public, 8080), timeout=2) as client:
                upstream, _ = own.accept()
                with upstream:
                    client.sendall(b"ping")
                    upstream.settimeout(2)
                    received = upstream.recv(4)
                    upstream.sendall(b"pong")
                    client.settimeout(2)
                    answered = client.recv(4)
            held = loop_thread.call(target.reclaim, 8080)
        reclaimed = loop_thread.call(target.reclaim, 8080)
        after = (connect_outcome(instance, 8080), connect_outcome(public, 8080))
        mode = loop_thread.call(lambda: target.listener(8080).mode)  # type: ignore[union-attr]
    finally:
        loop_thread.call(hosts.close_all)

    assert released == ("refused", Mode.SERVE)  # nothing bound yet; the public side forwards (and resets)
    assert (received, answered) == (b"ping", b"pong")
    assert (held, reclaimed) == (False, True)  # localcloud takes the port back only once it is free
    assert after == ("hangs", "hangs") and mode is Mode.BLACKHOLE


def test_a_released_port_is_left_alone_by_blackhole_all(loop_thread: LoopThread, pool: AddressPool) -> None:
    address = pool.allocate("instance")
    hosts = loop_thread.call(lambda: HostTable(loop_thread.loop))
    host = loop_thread.call(hosts.add, address, (8080,))
    try:
        loop_thread.call(host.release, 8080)
        loop_thread.call(host.blackhole_all)
        mode = loop_thread.call(lambda: host.listener(8080).mode)  # type: ignore[union-attr]
    finally:
        loop_thread.call(hosts.close_all)

    assert mode is Mode.RELEASED


def test_listening_sees_a_listener_on_exactly_that_address_and_port(pool: AddressPool) -> None:
    address, other = pool.allocate("instance"), pool.allocate("other")
    with socket.create_server((address, 0)) as server:
        port = server.getsockname()[1]
        seen = (processes.listening(address, port), processes.listening(other, port),
                processes.listening(address, port + 1 if port < 65535 else port - 1))
        with socket.socket(socket.AF_INET6) as mapped:
            mapped.bind((f"::ffff:{other}", port))
            mapped.listen()
            seen_mapped = processes.listening(other, port)
    assert seen == (True, False, False)
    assert seen_mapped
    assert not processes.listening(address, port)


def test_an_instance_s_processes_are_found_by_group_or_marker_and_killed() -> None:
    env = {**os.environ, processes.MARKER: "i-0testmarker"}
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    in_group = subprocess.Popen(sleeper, start_new_session=True)  # the user data's process group
    detached = subprocess.Popen(sleeper, start_new_session=True, env=env)  # setsid'ed daemon: marker only
    unrelated = subprocess.Popen(sleeper, start_new_session=True)
    try:
        found = processes.instance_pids(["i-0testmarker"], [in_group.pid])
        others = processes.instance_pids(["i-0other"], [])

        killed = processes.kill_instances(["i-0testmarker"], [in_group.pid])
        for child in (in_group, detached):
            child.wait(timeout=5)

        assert sorted(found) == sorted([in_group.pid, detached.pid])
        assert unrelated.pid not in others and in_group.pid not in others
        assert detached.pid in killed  # the group went with killpg; the daemon by its marker
        assert process_gone(in_group.pid) and process_gone(detached.pid) and not process_gone(unrelated.pid)
    finally:
        for child in (in_group, detached, unrelated):
            child.kill()
            child.wait(timeout=5)


def test_zombies_do_not_count() -> None:
    env = {**os.environ, processes.MARKER: "i-0zombie"}
    child = subprocess.Popen([sys.executable, "-c", "pass"], env=env)
    deadline = time.monotonic() + 5
    while not process_gone(child.pid) and time.monotonic() < deadline:  # exited, not reaped: a zombie
        time.sleep(0.01)
    try:
        assert processes.instance_pids(["i-0zombie"]) == []
    finally:
        child.wait(timeout=5)
