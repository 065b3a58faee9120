"""Runs locust as a supervised subprocess group: start, wait until users run, stop on any ending.

Locust is never imported here (it monkey-patches the interpreter). It runs under
`gameday.load.supervisor` in a session of its own, so a Ctrl-C meant for the suite reaches only the
suite, which then stops locust on purpose; and if the suite dies without stopping it, the supervisor
sees its stdin close and ends the whole group. `stop()` checks that no process of the group is left.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gameday.clock import Clock, SystemClock
from gameday.errors import SuiteError
from gameday.load.config import LoadConfig, Target, check_target
from gameday.load.procs import LEFTOVER_GRACE_S, group_members, wait_group_empty
from gameday.resources import FILES

log = logging.getLogger(__name__)

LOCUSTFILE = FILES.locustfile
_READY_MARK = b'"ev":"load.users"'


class LoadError(SuiteError):
    """The load generator could not start, died, or left processes behind: the run's load is not trusted."""


@dataclass(frozen=True)
class LoadFiles:
    """Where one load run writes, all under one folder of the run's report."""

    root: Path

    @property
    def records_dir(self) -> Path:
        return self.root / "records"  # <host>-<pid>.jsonl, one per locust process

    @property
    def csv_prefix(self) -> Path:
        return self.root / "locust"  # locust_stats.csv, _stats_history.csv, _failures.csv, _exceptions.csv

    @property
    def stats_json(self) -> Path:
        return self.root / "locust.json"

    @property
    def locust_log(self) -> Path:
        return self.root / "locust.log"

    @property
    def output_log(self) -> Path:
        return self.root / "output.log"  # the supervisor's and locust's stdout/stderr

    @property
    def summary(self) -> Path:
        return self.root / "load.json"


@dataclass(frozen=True)
class LoadResult:
    ended: str  # finished (the shape ended) | stopped (we asked) | killed (had to SIGKILL) | deadline
    exit_code: int | None
    started_at: float
    stopped_at: float
    pgid: int
    leftover: tuple[int, ...]  # processes of the group still alive after stop: must be empty

    def to_dict(self) -> dict[str, Any]:
        return {"ended": self.ended, "exit_code": self.exit_code, "started_at": self.started_at,
                "stopped_at": self.stopped_at, "pgid": self.pgid, "leftover": list(self.leftover)}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def locust_options(config: LoadConfig, target: Target, files: LoadFiles | None) -> list[str]:
    """The --gameday-* options every locust process of the run needs (the listener and locustfile read them)."""
    paths = ",".join(config.paths or (target.path,))
    options = ["--gameday-shape", config.shape, "--gameday-users", str(config.users),
               "--gameday-rate", str(config.rate or 0), "--gameday-duration", str(config.duration_s),
               "--gameday-step-at", str(config.step_at_s), "--gameday-ramp", str(config.ramp_s),
               "--gameday-paths", paths, "--gameday-max-requests", str(config.request_budget_per_process),
               "--gameday-connect-timeout", str(config.connect_timeout_s),
               "--gameday-timeout", str(config.timeout_s)]
    if config.hosts:  # the target's own base URL first, then the others, one per user in turn
        options += ["--gameday-hosts", ",".join([target.host_url, *(check_target(h).host_url for h in config.hosts)])]
    if files is not None:
        options += ["--gameday-records", str(files.records_dir), "--gameday-stats-json",
                    str(files.csv_prefix)]
    return options


def locust_command(config: LoadConfig, target: Target, files: LoadFiles, master_port: int) -> list[str]:
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", target.host_url,
               "--only-summary", "--exit-code-on-error", "0", "--logfile", str(files.locust_log),
               "--csv", str(files.csv_prefix), "--csv-full-history"]
    if config.processes > 1:
        command += ["--processes", str(config.processes), "--master-bind-host", config.master_bind_host,
                    "--master-bind-port", str(master_port), "--master-port", str(master_port)]
    elif config.expect_workers:
        command += ["--master", "--master-bind-host", config.master_bind_host,
                    "--master-bind-port", str(master_port), "--expect-workers", str(config.expect_workers),
                    "--expect-workers-max-wait", str(int(config.start_timeout_s))]
    return command + locust_options(config, target, files)


def worker_command(config: LoadConfig, target_url: str, master_host: str, master_port: int,
                   records_dir: Path, *, processes: int = 1) -> list[str]:
    """The command that joins another host's locust to a master run (`LoadConfig.expect_workers`).

    Workers write their request records to `records_dir` on their own host; copy them next to the
    master's before merging (or point every host at one shared folder).
    """
    target = check_target(target_url)
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", master_host,
               "--master-port", str(master_port)]
    if processes > 1:
        command += ["--processes", str(processes)]
    return command + locust_options(config, target, None) + ["--gameday-records", str(records_dir)]


def supervised(command: list[str], *, deadline_s: float, grace_s: float, nice: int,
               output: IO[bytes], cwd: Path | None = None, idle: bool = False) -> subprocess.Popen[bytes]:
    """Start `command` under the supervisor, as the leader of a new session; close its stdin to stop it."""
    env = {**FILES.child_env(os.environ), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gameday.load.supervisor", "--deadline", f"{deadline_s:.3f}",
         "--grace", f"{grace_s:.3f}", "--nice", str(nice), *(["--idle"] if idle else []), "--", *command],
        stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, cwd=cwd or FILES.child_cwd(Path.cwd()), env=env,
        start_new_session=True)


class LoadRun:
    """One locust run against one loopback target; `with LoadRun(...) as run:` stops it on any exit."""

    def __init__(self, config: LoadConfig, target_url: str, out_dir: Path, *, clock: Clock | None = None,
                 command: list[str] | None = None) -> None:
        self.config = config
        self.target = check_target(target_url)
        self.files = LoadFiles(out_dir)
        self.clock = clock or SystemClock()
        distributed = config.processes > 1 or config.expect_workers > 0
        self.master_port = config.master_port or (free_port(config.master_bind_host) if distributed else 0)
        self.command = command or locust_command(config, self.target, self.files, self.master_port)
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._started_at = 0.0
        self._result: LoadResult | None = None

    @property
    def deadline_s(self) -> float:
        """The supervisor's hard bound: the shape's duration plus time to start and to stop."""
        return self.config.duration_s + self.config.start_timeout_s + self.config.stop_grace_s + 10.0

    @property
    def pgid(self) -> int:
        if self._proc is None:
            raise LoadError("load run not started")
        return self._proc.pid  # the supervisor leads its own session, so its pid is the group id

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LoadRun:
        if self._proc is not None:
            raise LoadError("load run already started")
        self.files.root.mkdir(parents=True, exist_ok=True)
        self._output = self.files.output_log.open("ab")
        self._started_at = self.clock.now()
        self._proc = supervised(self.command, deadline_s=self.deadline_s, grace_s=self.config.stop_grace_s,
                                nice=self.config.nice, idle=self.config.idle, output=self._output)
        log.info("load %s started against %s (pgid %d)", self.config.shape, self.target.url, self.pgid)
        return self

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until locust has spawned its first users; raise `LoadError` if it died or never did."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.config.start_timeout_s)
        while time.monotonic() < deadline:
            if self._ready():
                return
            if not self.running:
                self.stop()
                raise LoadError(f"locust exited before its users started (exit {self._exit_code()}): "
                                f"{self.output_tail()}")
            time.sleep(0.05)
        self.stop()
        raise LoadError(f"locust users did not start within {timeout_s or self.config.start_timeout_s:.0f} s: "
                        f"{self.output_tail()}")

    def wait(self, timeout_s: float) -> bool:
        """Wait for the run to end by itself (the shape's duration or the request budget); True if it did."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> LoadResult:
        """End the run and every process of its group; idempotent."""
        if self._result is not None:
            return self._result
        if self._proc is None:
            raise LoadError("load run not started")
        proc, ended = self._proc, "finished" if self._proc.poll() is not None else "stopped"
        try:
            if proc.poll() is None:
                self._close_stdin()
                wait_s = self.config.stop_grace_s + LEFTOVER_GRACE_S + 10.0
                try:
                    proc.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    log.error("load supervisor %d did not stop within %.0f s; killing its group", proc.pid, wait_s)
                    ended = "killed"
                    self._kill_group()
        except BaseException:
            self._kill_group()  # interrupted while stopping: no second chance for locust
            raise
        finally:
            self._close_stdin()
            if self._output is not None:
                self._output.close()
        leftover = wait_group_empty(self.pgid, 5.0)
        if leftover:
            self._kill_group()
            leftover = wait_group_empty(self.pgid, 5.0)
        if proc.returncode == 124:
            ended = "deadline"
        self._result = LoadResult(ended=ended, exit_code=proc.returncode, started_at=self._started_at,
                                  stopped_at=self.clock.now(), pgid=self.pgid, leftover=tuple(leftover))
        self._write_summary(self._result)
        log.info("load run %s (exit %s)", ended, proc.returncode)
        return self._result

    def output_tail(self, lines: int = 5) -> str:
        texts = []
        for path in (self.files.output_log, self.files.locust_log):
            if path.exists():
                texts += path.read_text(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(texts) or "(no output)"

    def __enter__(self) -> LoadRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ready(self) -> bool:
        if not self.files.records_dir.is_dir():
            return False
        for path in self.files.records_dir.glob("*.jsonl"):
            with path.open("rb") as handle:
                if _READY_MARK in handle.read(1 << 20):
                    return True
        return False

    def _exit_code(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def _close_stdin(self) -> None:
        if self._proc is not None and self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass

    def _kill_group(self) -> None:
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                log.error("load supervisor %d survived SIGKILL", self._proc.pid)

    def _write_summary(self, result: LoadResult) -> None:
        summary = {"target": self.target.url, "config": self.config.to_dict(), "command": self.command,
                   "master_port": self.master_port, "result": result.to_dict()}
        try:
            self.files.summary.write_text(json.dumps(summary, indent=2) + "\n")
        except OSError as exc:
            log.warning("could not write %s: %s", self.files.summary, exc)


def leftover_processes(pgid: int) -> list[int]:
    """Processes of a load run's group still alive (for checks after the fact)."""
    return group_members(pgid)
