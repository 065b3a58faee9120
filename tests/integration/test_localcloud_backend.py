"""LocalBackend and `python -m localcloud serve`: a child process that starts, answers, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gameday.backends.local import LocalBackend
from gameday.errors import BackendError
from localcloud.net.pool import AddressPool
from tests.localcloud.support import connect_outcome, process_gone

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def serve(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "localcloud", "serve", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO_ROOT, env=env)


def ready_line(proc: subprocess.Popen[bytes]) -> dict[str, object]:
    assert proc.stdout is not None
    return dict(json.loads(proc.stdout.readline()))


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def test_start_and_close_leave_no_process_port_directory_or_address_block() -> None:
    backend = LocalBackend("fast", seed=5)
    try:
        ready = backend.ready
        regions = backend.client("ec2").describe_regions()["Regions"]
        pid = backend.pid
    finally:
        backend.close()
    backend.close()  # idempotent

    assert pid is not None and ready["pid"] == pid and ready["profile"] == "fast" and regions
    assert process_gone(pid)
    assert connect_outcome(*host_port(backend.endpoint_url)) == "refused"
    assert connect_outcome(*host_port(backend.control_url)) == "refused"
    assert not Path(str(ready["workdir"])).exists()
    block = int(str(ready["address_block"]).split(".")[1])
    pool = AddressPool(block=block)
    assert pool.claim() == block  # the child's claim died with it
    pool.close()


def test_ground_truth_and_resolvers_come_from_the_child() -> None:
    with LocalBackend("fast") as backend:
        since = time.time()
        iid = backend.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1,
                                                  MaxCount=1)["Instances"][0]["InstanceId"]
        events = backend.ground_truth(since)
        later = backend.ground_truth(time.time() + 60)
        resolvers = backend.resolvers()

    pending = [e for e in events if e.kind == "localcloud.instance.pending"]
    assert pending and pending[0].subject == iid and pending[0].source == "localcloud"
    assert pending[0].at >= since and later == []
    assert all(r.host.startswith("127.") for r in resolvers)


def test_a_child_that_cannot_start_is_reported_with_its_stderr() -> None:
    with pytest.raises(BackendError, match="unknown time profile 'no-such-profile'"):
        LocalBackend("no-such-profile")


@pytest.mark.parametrize("stop", ["stdin", "sigterm", "sigint"])
def test_serve_stops_cleanly_on_end_of_stdin_and_on_signals(stop: str) -> None:
    proc = serve("--profile", "fast")
    try:
        ready = ready_line(proc)
        assert ready["ready"] is True and ready["pid"] == proc.pid
        assert proc.stdin is not None
        if stop == "stdin":
            proc.stdin.close()
        else:
            proc.send_signal(signal.SIGTERM if stop == "sigterm" else signal.SIGINT)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    assert code == 0
    assert not Path(str(ready["workdir"])).exists()


def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    parent_script = tmp_path / "parent.py"
    parent_script.write_text(textwrap.dedent("""
        import sys, time
        from gameday.backends.local import LocalBackend
        backend = LocalBackend("fast")
        print(backend.pid, backend.ready["workdir"], backend._tmp, flush=True)
        time.sleep(600)
    """))
    parent = subprocess.Popen([sys.executable, str(parent_script)], stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT)
    try:
        assert parent.stdout is not None
        child_pid, workdir, child_tmp = parent.stdout.readline().decode().split()
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 30
        while not process_gone(int(child_pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()

    assert process_gone(int(child_pid)), "localcloud outlived its parent"
    assert not Path(workdir).exists()
    assert not Path(child_tmp).exists()  # the TMPDIR its killed parent made for it went with it
