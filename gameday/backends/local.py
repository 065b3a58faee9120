"""The localcloud backend: runs `python -m localcloud serve` as a child process and talks to it.

A child, not a thread: the probes keep this interpreter's GIL to themselves (measurement accuracy),
and teardown cannot leak: the child stops on SIGTERM, on Ctrl-C (same process group), and when its
stdin pipe closes because this process died.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from gameday import debian
from gameday.backends.base import Resolver
from gameday.errors import BackendError
from gameday.resources import FILES
from gameday.timeline import Event

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 4000
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the control API is loopback


def control_request(url: str, *, method: str = "GET", timeout_s: float = 10.0) -> bytes:
    """One request to a localcloud control API (loopback: never through a proxy). A refusal raises
    BackendError with localcloud's own one-line reason; an unreachable API raises OSError."""
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with _NO_PROXY.open(request, timeout=timeout_s) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode("utf-8", "replace").strip().splitlines()
        raise BackendError(f"localcloud refused {method} {url}: HTTP {exc.code} "
                           f"{reason[0] if reason else ''}".rstrip()) from exc


class LocalBackend:
    """`Backend` on localcloud. Starts the child in the constructor; `close()` stops it (idempotent)."""

    name = "localcloud"

    def __init__(self, profile: str = "fast", seed: int | None = None, *, region: str = "us-east-1",
                 start_timeout_s: float = 60.0, stop_timeout_s: float = 20.0,
                 extra_args: tuple[str, ...] = ()) -> None:
        debian.require(debian.UNBOUND)  # before a child that would fail on it later, with a traceback
        self.profile = profile
        self.seed = seed
        self.region = region
        self._stop_timeout_s = stop_timeout_s
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._next_seq = 0
        self._session: Any = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] = tempfile.TemporaryFile(prefix="localcloud-stderr-")
        # The child's TMPDIR: whatever it and its helpers (unbound's config dirs, …) leave there goes with
        # close(), even when the child had to be killed before it could clean up.
        self._tmp = tempfile.mkdtemp(prefix="gameday-localcloud-")
        self.ready: dict[str, Any] = {}
        try:
            self._start(start_timeout_s, extra_args)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str:
        return str(self.ready["endpoint_url"])

    @property
    def control_url(self) -> str:
        return str(self.ready["control_url"])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # --- Backend ---

    def client(self, service: str, region: str | None = None) -> Any:
        from botocore.config import Config

        with self._lock:  # boto3 sessions are not thread-safe; the clients they make are
            if self._session is None:
                import boto3

                self._session = boto3.session.Session(aws_access_key_id="localcloud",
                                                      aws_secret_access_key="localcloud", region_name=self.region)
            return self._session.client(service, region_name=region or self.region,
                                        endpoint_url=self.endpoint_url,
                                        config=Config(inject_host_prefix=False, retries={"max_attempts": 2}))

    def resolvers(self) -> list[Resolver]:
        dns = self.ready.get("dns") or {}
        return [Resolver(name, str(spec["host"]), int(spec["port"]), str(spec.get("kind") or name))
                for name, spec in sorted(dns.items())]

    def ground_truth(self, since: float = 0.0) -> list[Event]:
        """localcloud's own record of what happened, at or after `since` (epoch seconds)."""
        with self._lock:
            self._fetch_new_events()
            return [e for e in self._events if e.at >= since]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            self._stop(proc)
        if not self._stderr.closed:
            self._stderr.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # --- the child ---

    def _start(self, timeout_s: float, extra_args: tuple[str, ...]) -> None:
        profile = str(Path(self.profile).resolve()) if self.profile.endswith(".toml") else self.profile
        command = [sys.executable, "-m", "localcloud", "serve", "--profile", profile, "--region", self.region,
                   *(["--seed", str(self.seed)] if self.seed is not None else []), *extra_args]
        env = FILES.child_env(os.environ)
        env["TMPDIR"] = env["LOCALCLOUD_OWNED_TMPDIR"] = self._tmp
        try:
            # A session of its own: the terminal's Ctrl-C goes to the suite, which reverts its faults and
            # deletes its stacks *through* localcloud before closing it. If the suite dies outright, the
            # child sees end-of-file on stdin and shuts down by itself.
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._stderr, cwd=FILES.child_cwd(Path(self._tmp)),
                                          env=env, start_new_session=True)
        except OSError as exc:
            raise BackendError(f"cannot start localcloud: {exc}") from exc
        line = self._read_ready_line(timeout_s)
        try:
            ready = json.loads(line)
        except ValueError as exc:
            raise BackendError(f"localcloud printed {line[:200]!r} instead of its ready line") from exc
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            raise BackendError(f"localcloud did not report ready: {line[:200]!r}")
        self.ready = ready
        self.profile = str(ready.get("profile") or self.profile)  # a .toml path reports its profile's name
        log.info("localcloud ready (pid %s): %s, profile %s", ready.get("pid"), ready.get("endpoint_url"),
                 self.profile)

    def _read_ready_line(self, timeout_s: float) -> str:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendError(f"localcloud not ready within {timeout_s:.0f} s{self._stderr_tail()}")
            readable, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = proc.wait(timeout=5)
                raise BackendError(f"localcloud exited with code {code} before it was ready{self._stderr_tail()}")
            buffer += chunk
        return buffer.split(b"\n", 1)[0].decode("utf-8", "replace")

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            try:
                proc.stdin.close()  # end of stdin: the child's own shutdown path
            except OSError:
                pass
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(self._stop_timeout_s)
        except subprocess.TimeoutExpired:
            log.error("localcloud (pid %s) ignored SIGTERM for %.0f s: killing it", proc.pid, self._stop_timeout_s)
            proc.kill()
            code = proc.wait(10.0)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            self._kill_leftovers(proc.pid)
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):
            log.warning("localcloud exited with code %s%s", code, self._stderr_tail())

    @staticmethod
    def _kill_leftovers(pgid: int) -> None:
        """What the child started in its own process group (its DNS resolvers) and left behind when it had to
        be killed: nothing of ours outlives the backend."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return  # the group is gone: the child stopped everything itself
        log.warning("localcloud (pid %s) left processes in its group: killed them", pgid)

    def _stderr_tail(self) -> str:
        if self._stderr.closed:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - STDERR_TAIL_BYTES))
        tail = self._stderr.read().decode("utf-8", "replace").strip()
        return f"; its stderr ends with:\n{tail}" if tail else " (nothing on stderr)"

    def control(self, path: str, *, method: str = "GET") -> bytes:
        """A request to this localcloud's control API (`/info`, `/console/<id>`, `/spot/...`)."""
        return control_request(f"{self.control_url}{path}", method=method)

    def _fetch_new_events(self) -> None:
        for _ in range(1000):  # pages of up to 10,000 events
            query = urllib.parse.urlencode({"since": self._next_seq})
            try:
                with _NO_PROXY.open(f"{self.control_url}/events?{query}", timeout=10) as response:
                    page = json.load(response)
            except OSError as exc:
                raise BackendError(f"localcloud control API unreachable: {exc}") from exc
            batch = page["events"]
            self._events.extend(Event(at=float(e["at"]), kind=str(e["kind"]), source="localcloud",
                                      subject=str(e.get("subject", "")), detail=dict(e.get("detail", {})))
                                for e in batch)
            self._next_seq = int(page["next"])
            if not batch:
                return
