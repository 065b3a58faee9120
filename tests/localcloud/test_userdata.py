"""run_user_data without a cloud: environment, timeout, and cancellation killing the whole script."""

import asyncio
from pathlib import Path

from localcloud.ec2.userdata import UserDataRun, run_user_data
from localcloud.events import EventLog
from tests.localcloud.support import process_gone


def run_for(tmp_path: Path, script: str, timeout_s: float = 30.0) -> UserDataRun:
    home = tmp_path / "i-test"
    home.mkdir()
    return UserDataRun("i-test", script.encode(), home, "http://127.0.0.1:1", "http://127.9.9.9:8169/", timeout_s)


def test_the_script_sees_the_instance_environment_and_not_the_host_s(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "host-secret")
    run = run_for(tmp_path, "#!/bin/bash\nenv | sort\ncommand -v aws\n")
    events = EventLog()

    code = asyncio.run(run_user_data(run, events))
    output = run.console_log.read_text()

    assert code == 0
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:1" in output
    assert "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.9.9.9:8169/" in output
    assert "host-secret" not in output and f"HOME={run.home}" in output
    assert output.strip().endswith("/aws")
    assert [e.kind for e in events.since(0)[0]] == ["localcloud.userdata.start", "localcloud.userdata.exit"]


def test_a_script_past_its_timeout_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    run = run_for(tmp_path, "#!/bin/bash\nsleep 60 &\necho $! > child.pid\nwait\n", timeout_s=0.5)
    events = EventLog()

    code = asyncio.run(run_user_data(run, events))
    child = int((run.home / "child.pid").read_text())

    assert code is None
    assert events.find("localcloud.userdata.exit")[0].detail["reason"] == "timeout"
    assert not _alive(child)


def test_cancelling_the_run_kills_the_script(tmp_path: Path) -> None:
    run = run_for(tmp_path, "#!/bin/bash\necho $$ > script.pid\nsleep 60\n")
    events = EventLog()

    async def cancel_soon() -> None:
        task = asyncio.create_task(run_user_data(run, events))
        for _ in range(200):
            if (run.home / "script.pid").exists():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(cancel_soon())

    assert not _alive(int((run.home / "script.pid").read_text()))
    assert events.find("localcloud.userdata.exit")[0].detail["reason"] == "instance gone"


def _alive(pid: int) -> bool:
    return not process_gone(pid)
