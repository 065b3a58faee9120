"""LocalCloud as a whole: start and stop leave nothing behind, even after a failed start; one per process."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud import LocalCloud, LocalCloudError, ServiceSpec
from localcloud import cloud as cloud_module
from localcloud.net.pool import AddressPool
from tests.localcloud.support import connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class RecordingService:
    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log, self.fail = log, fail

    def start(self) -> None:
        self.log.append("start")
        if self.fail:
            raise RuntimeError("service broke")

    def stop(self) -> None:
        self.log.append("stop")

    def describe(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": 5353}


def test_a_used_cloud_stops_without_leaving_threads_sockets_or_files(tmp_path: Path) -> None:
    threads, fds = set(threading.enumerate()), open_fds()
    calls: list[str] = []
    cloud = LocalCloud(tiny_profile(tmp_path), services=[
        ServiceSpec("authoritative", lambda c: RecordingService(calls), resolver_kind="authoritative")])
    with cloud:
        ec2 = cloud.client("ec2")
        iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
        address = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
        served = http_get(address)[0]
        ec2.close()
        info = cloud.info()
        endpoint, workdir, block = cloud.endpoint_url, cloud.workdir, cloud.pool.block
    cloud.stop()  # idempotent

    assert served == 200 and calls == ["start", "stop"]
    assert info["dns"] == {"authoritative": {"host": "127.0.0.1", "port": 5353, "kind": "authoritative"}}
    assert set(threading.enumerate()) <= threads
    assert open_fds() <= fds
    assert not workdir.exists()
    assert connect_outcome(address) == "refused"
    host, port = endpoint.removeprefix("http://").split(":")
    assert connect_outcome(host, int(port)) == "refused"
    pool = AddressPool(block=block)
    assert pool.claim() == block
    pool.close()


def test_a_failed_start_undoes_what_it_started(tmp_path: Path) -> None:
    threads, fds = set(threading.enumerate()), open_fds()
    calls: list[str] = []
    cloud = LocalCloud(tiny_profile(tmp_path), services=[
        ServiceSpec("fine", lambda c: RecordingService(calls)),
        ServiceSpec("broken", lambda c: RecordingService(calls, fail=True))])

    with pytest.raises(RuntimeError, match="service broke"):
        cloud.start()

    assert calls == ["start", "start", "stop"]  # the broken one never started, the fine one stopped
    assert set(threading.enumerate()) <= threads and open_fds() <= fds
    with pytest.raises(LocalCloudError):
        cloud.start()


def test_one_cloud_per_process(tmp_path: Path) -> None:
    with LocalCloud(tiny_profile(tmp_path)), pytest.raises(LocalCloudError, match="another LocalCloud"):
        LocalCloud(tiny_profile(tmp_path)).start()


def test_without_privilege_for_port_80_start_fails_in_one_line(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class Unprivileged(socket.socket):
        def bind(self, address: Any) -> None:
            if isinstance(address, tuple) and address[1] < 1024:
                raise PermissionError(13, "Permission denied")
            super().bind(address)

    monkeypatch.setattr(cloud_module, "socket", SimpleNamespace(socket=Unprivileged, AF_INET=socket.AF_INET,
                                                                SOCK_STREAM=socket.SOCK_STREAM))
    threads = set(threading.enumerate())
    with pytest.raises(LocalCloudError) as failure:
        LocalCloud(tiny_profile(tmp_path)).start()

    assert "CAP_NET_BIND_SERVICE" in str(failure.value) and "\n" not in str(failure.value)
    assert set(threading.enumerate()) <= threads
