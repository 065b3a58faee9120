"""Run an instance's user data for real: `bash` in the instance's own directory, against localcloud.

The environment is what a script sees on EC2, pointed at localcloud: the AWS CLI on PATH, no
credentials (they come from the instance role via IMDS), no host ~/.aws, and the two endpoints.
A failing script does not stop the instance (as on EC2); it just never does its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.ec2 import processes
from localcloud.events import USERDATA_EXIT, USERDATA_START, EventLog

log = logging.getLogger(__name__)

TAIL_BYTES = 2000
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class UserDataRun:
    instance_id: str
    script: bytes
    home: Path  # the instance's own directory: HOME, cwd, console log
    endpoint_url: str  # moto
    imds_url: str  # this instance's metadata service, with a trailing slash
    timeout_s: float
    extra_env: Mapping[str, str] = field(default_factory=dict)  # the cloud's own (e.g. the VPC resolver)

    @property
    def console_log(self) -> Path:
        return self.home / "console.log"

    def environment(self) -> dict[str, str]:
        aws_dir = self.home / ".aws"
        return {
            "PATH": f"{Path(sys.executable).parent}:{_SYSTEM_PATH}",
            "HOME": str(self.home),
            "USER": "root",
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.home / "tmp"),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
            "AWS_CONFIG_FILE": str(aws_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
            # A per-instance /etc/haproxy: four instances on one host must not share (or clobber) the host's.
            "HAPROXY_CONFIG_DIR": str(self.home / "etc" / "haproxy"),
            **self.extra_env,
            # localcloud's own tag (not on EC2): what the script starts inherits it, so a daemon that left
            # the process group is still found and stopped with the instance.
            processes.MARKER: self.instance_id,
        }


def prepare_home(home: Path) -> None:
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    for name in ("config", "credentials"):
        (home / ".aws" / name).touch()


async def run_user_data(run: UserDataRun, events: EventLog,
                        on_spawn: Callable[[int], None] | None = None,
                        on_exit: Callable[[], None] | None = None) -> int | None:
    """Run the script to completion or timeout; returns its exit code (None if killed by the timeout).

    Cancelling the task (instance terminated, cloud stopping) kills the script's whole process group.
    `on_spawn` gets that process group's id: what the script leaves running (a HAProxy in the
    foreground of the boot, a backend server) stays in it, and the instance kills it when it goes.
    `on_exit` runs once the script has ended (not when cancelled), before the exit event is recorded.
    """
    prepare_home(run.home)
    script = run.home / "user-data"
    script.write_bytes(run.script)
    events.emit(USERDATA_START, run.instance_id, script=str(script), console_log=str(run.console_log))
    started = time.monotonic()
    with open(run.console_log, "ab") as console:
        proc = await asyncio.create_subprocess_exec(
            "bash", str(script), stdin=asyncio.subprocess.DEVNULL, stdout=console, stderr=asyncio.subprocess.STDOUT,
            cwd=run.home, env=run.environment(), start_new_session=True)
        if on_spawn is not None:
            on_spawn(proc.pid)
        code: int | None
        try:
            code = await asyncio.wait_for(proc.wait(), run.timeout_s)
        except TimeoutError:
            await _kill(proc, run.instance_id)
            code = None
        except asyncio.CancelledError:
            await _kill(proc, run.instance_id)
            events.emit(USERDATA_EXIT, run.instance_id, code=None, reason="instance gone",
                        duration_s=round(time.monotonic() - started, 3), tail=_tail(run.console_log))
            raise
    if on_exit is not None:
        try:
            on_exit()
        except Exception:
            log.exception("after the user data of %s", run.instance_id)
    reason = "timeout" if code is None else ("ok" if code == 0 else "failed")
    events.emit(USERDATA_EXIT, run.instance_id, code=code, reason=reason,
                duration_s=round(time.monotonic() - started, 3), tail=_tail(run.console_log))
    if code != 0:
        log.warning("user data of %s %s (code %s); console: %s", run.instance_id, reason, code, run.console_log)
    return code


async def _kill(proc: asyncio.subprocess.Process, instance_id: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the script and everything it started
    processes.kill_instances([instance_id], [proc.pid])  # ... and what detached from the group
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), 10.0)


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
