"""Run an instance's user data for real: `bash` in the instance's own directory, against localcloud.

The environment is what a script sees on EC2, pointed at localcloud: the AWS CLI on PATH, no
credentials (they come from the instance role via IMDS), no host ~/.aws, and the two endpoints.
A failing script does not stop the instance (as on EC2); it just never does its job.

Names resolve as on EC2, through the VPC resolver: the script runs in a mount namespace of its own where
/etc/resolv.conf is a bind mount of the instance's `etc/resolv.conf` naming that resolver, so libc (bash,
curl, getent, HAProxy's startup lookups) and everything the script starts resolve the VPC's private zones.
`unshare` execs in place, then `sh` execs bash: the pid and the process group stay the one localcloud
tracks and kills. A host that cannot make the namespace (not root, no util-linux) runs the script with
the host's resolv.conf, after one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.ec2 import processes
from localcloud.events import USERDATA_EXIT, USERDATA_START, EventLog

log = logging.getLogger(__name__)

TAIL_BYTES = 2000
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RESOLV_CONF = "/etc/resolv.conf"
DNS_PORT = 53  # resolv.conf names no port
# EC2's Amazon Linux resolv.conf options: a 2 s timeout, 5 attempts.
RESOLV_OPTIONS = "options timeout:2 attempts:5"
_UNSHARE = ("--mount", "--propagation", "private", "--")
_BIND_THEN_RUN = 'mount --bind "$1" /etc/resolv.conf && exec bash "$2"'

Address = tuple[str, int]


@dataclass(frozen=True)
class UserDataRun:
    instance_id: str
    script: bytes
    home: Path  # the instance's own directory: HOME, cwd, console log
    endpoint_url: str  # moto
    imds_url: str  # this instance's metadata service, with a trailing slash
    timeout_s: float
    extra_env: Mapping[str, str] = field(default_factory=dict)  # the cloud's own (e.g. the VPC resolver)
    vpc_resolver: Callable[[], Address] | None = None  # the instance's VPC resolver; blocks while it starts

    @property
    def console_log(self) -> Path:
        return self.home / "console.log"

    @property
    def marker(self) -> str:
        """The instance's processes.MARKER value: its directory, which no other cloud's instance shares."""
        return str(self.home)

    @property
    def resolv_conf(self) -> Path:
        """What the script sees as /etc/resolv.conf."""
        return self.home / "etc" / "resolv.conf"

    def environment(self, resolver: Address | None = None) -> dict[str, str]:
        aws_dir = self.home / ".aws"
        return {
            "PATH": f"{Path(sys.executable).parent}:{_SYSTEM_PATH}",
            "HOME": str(self.home),
            "USER": "root",
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.home / "tmp"),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
            # EC2's metadata service answers from the host in well under a millisecond; localcloud's shares the
            # machine with the whole game day (a dozen instances' CLIs importing botocore at once when several
            # stacks boot together), and the CLI gives it 1 s and one attempt before "Unable to locate
            # credentials". A slower answer here says something about our host, not about the stack.
            "AWS_METADATA_SERVICE_TIMEOUT": "5",
            "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3",
            "AWS_CONFIG_FILE": str(aws_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
            # A per-instance /etc/haproxy: four instances on one host must not share (or clobber) the host's.
            "HAPROXY_CONFIG_DIR": str(self.home / "etc" / "haproxy"),
            # Where attached EBS volumes show, one directory per device (`sdf` for /dev/sdf): EC2's /dev.
            "EBS_DEVICE_DIR": str(self.home / "volumes"),
            **self.extra_env,
            **({"VPC_DNS_RESOLVER": f"{resolver[0]}:{resolver[1]}"} if resolver is not None else {}),
            "LOCALCLOUD_INSTANCE_ID": self.instance_id,  # not on EC2 (documented: do not rely on it)
            # localcloud's own tag (not on EC2): what the script starts inherits it, so a daemon that left
            # the process group is still found and stopped with the instance.
            processes.MARKER: self.marker,
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
    resolver = await _vpc_resolver(run)
    resolv_conf = _write_resolv_conf(run, resolver)
    events.emit(USERDATA_START, run.instance_id, script=str(script), console_log=str(run.console_log))
    started = time.monotonic()
    with open(run.console_log, "ab") as console:
        proc = await asyncio.create_subprocess_exec(
            *_command(script, resolv_conf), stdin=asyncio.subprocess.DEVNULL, stdout=console,
            stderr=asyncio.subprocess.STDOUT, cwd=run.home, env=run.environment(resolver), start_new_session=True)
        if on_spawn is not None:
            on_spawn(proc.pid)
        code: int | None
        try:
            code = await asyncio.wait_for(proc.wait(), run.timeout_s)
        except TimeoutError:
            await _kill(proc, run.marker)
            code = None
        except asyncio.CancelledError:
            await _kill(proc, run.marker)
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


@functools.cache
def system_resolver_unavailable() -> str | None:
    """Why user data cannot get its own /etc/resolv.conf on this host (None: it can). Probed once per process
    by doing what each run does (a private mount namespace, a bind mount over /etc/resolv.conf); the first
    call logs the consequence."""
    reason = _probe_namespace()
    if reason is not None:
        log.warning("instances resolve names with this host's %s, not their VPC resolver (their private names "
                    "do not resolve): %s; run localcloud as root with util-linux's unshare", RESOLV_CONF, reason)
    return reason


def _probe_namespace() -> str | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare not found (util-linux)"
    with tempfile.NamedTemporaryFile("w", prefix="localcloud-resolv-", suffix=".conf") as probe:
        probe.write("nameserver 127.0.0.1\n")
        probe.flush()
        try:
            result = subprocess.run([unshare, *_UNSHARE, "mount", "--bind", probe.name, RESOLV_CONF],
                                    capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"unshare --mount: {error}"
    if result.returncode != 0:
        said = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        return f"unshare --mount: {said}"
    return None


async def _vpc_resolver(run: UserDataRun) -> Address | None:
    """The instance's VPC resolver, started on a worker thread (unbound takes a moment); None without one.
    A resolver that cannot start is said in the console log, and the script runs all the same."""
    if run.vpc_resolver is None:
        return None
    try:
        return await asyncio.to_thread(run.vpc_resolver)
    except Exception as error:  # the cause goes to the console, where the script's own errors are read
        log.error("no VPC resolver for %s: %s", run.instance_id, error)
        with open(run.console_log, "a") as console:
            console.write(f"localcloud: no VPC resolver for this instance: {error}\n")
        return None


def _write_resolv_conf(run: UserDataRun, resolver: Address | None) -> Path | None:
    """The instance's resolv.conf naming its VPC resolver; None when the script keeps the host's (no resolver,
    one off port 53, or a host that cannot make the namespace)."""
    if resolver is None or resolver[1] != DNS_PORT or system_resolver_unavailable() is not None:
        return None
    run.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
    run.resolv_conf.write_text(f"# localcloud: this instance's VPC resolver (on AWS, the VPC's base address + 2)\n"
                               f"nameserver {resolver[0]}\n{RESOLV_OPTIONS}\n")
    return run.resolv_conf


def _command(script: Path, resolv_conf: Path | None) -> list[str]:
    """bash on the script; with a resolv.conf, first a private mount namespace where it is /etc/resolv.conf.
    Each step execs in place (unshare, then sh after the mount), so the pid spawned is bash's."""
    if resolv_conf is None:
        return ["bash", str(script)]
    return ["unshare", *_UNSHARE, "sh", "-c", _BIND_THEN_RUN, "localcloud-user-data", str(resolv_conf), str(script)]


async def _kill(proc: asyncio.subprocess.Process, marker: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the script and everything it started
    processes.kill_instances([marker], [proc.pid])  # ... and what detached from the group
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
