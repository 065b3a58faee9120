"""Instance lifecycle on the data plane: pending -> running -> booted (app up, user data run) -> gone.

Every step waits the profile's delay. A step scheduled for an earlier life of the instance (before a
stop, a start or a termination) finds the generation changed and does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.ec2.app import app_factory
from localcloud.ec2.imds import Credentials, Imds
from localcloud.ec2.userdata import UserDataRun, kill_process_group, run_user_data
from localcloud.events import INSTANCE_BOOTED, INSTANCE_RUNNING, EventLog
from localcloud.net.hosts import Host, HostTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    """What the API call created, captured on moto's request thread."""

    instance: Any  # moto's Instance (read on the loop thread, written only through moto_state)
    instance_id: str
    address: str
    asg: str | None
    user_data: bytes | None


@dataclass(frozen=True)
class FleetConfig:
    endpoint_url: str
    workdir: Path
    userdata_timeout_s: float
    app_port: int = 80
    imds_port: int = 8169
    user_env: Mapping[str, str] = field(default_factory=dict)  # read at each boot; the cloud fills it later


@dataclass
class _Runtime:
    launch: Launch
    host: Host
    imds: Imds
    generation: int = 0
    phase: str = "pending"
    boots: int = 0
    timer: asyncio.TimerHandle | None = None
    userdata: asyncio.Task[int | None] | None = None
    process_group: int | None = None  # the user data's: whatever it left running dies with the instance


class Fleet:
    """Loop thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, hosts: HostTable, events: EventLog,
                 delay: Callable[[str], float], config: FleetConfig) -> None:
        self._loop = loop
        self._hosts = hosts
        self._events = events
        self._delay = delay
        self._config = config
        self._instances: dict[str, _Runtime] = {}

    def host_of(self, instance_id: str) -> Host | None:
        runtime = self._instances.get(instance_id)
        return runtime.host if runtime is not None else None

    def instance_of(self, instance_id: str) -> Any | None:
        """moto's Instance behind a running data-plane instance (read only)."""
        runtime = self._instances.get(instance_id)
        return runtime.launch.instance if runtime is not None else None

    def imds_of(self, instance_id: str) -> Imds | None:
        runtime = self._instances.get(instance_id)
        return runtime.imds if runtime is not None else None

    def phase_of(self, instance_id: str) -> str | None:
        runtime = self._instances.get(instance_id)
        return runtime.phase if runtime is not None else None

    def home_of(self, instance_id: str) -> Path:
        return self._config.workdir / instance_id

    def imds_url(self, address: str) -> str:
        return f"http://{address}:{self._config.imds_port}/"

    def launched(self, launch: Launch) -> None:
        try:
            host = self._hosts.add(launch.address, (self._config.app_port, self._config.imds_port))
        except Exception:
            log.exception("instance %s gets no data plane", launch.instance_id)
            return
        inst = launch.instance
        imds = Imds(inst, region=str(inst.ec2_backend.region_name), credentials=Credentials.issue(time.time()),
                    user_data=launch.user_data)
        runtime = _Runtime(launch, host, imds)
        self._instances[launch.instance_id] = runtime
        self.home_of(launch.instance_id).mkdir(exist_ok=True)
        self._schedule(runtime, "ec2.pending_to_running", self._to_running)

    def started(self, instance_id: str) -> None:
        runtime = self._instances.get(instance_id)
        if runtime is None:
            return
        self._new_life(runtime, "pending")
        self._schedule(runtime, "ec2.pending_to_running", self._to_running)

    def stopped(self, instance_id: str) -> None:
        runtime = self._instances.get(instance_id)
        if runtime is not None:
            self._new_life(runtime, "stopped")

    def terminated(self, instance_id: str) -> None:
        runtime = self._instances.get(instance_id)
        if runtime is not None:
            self._new_life(runtime, "terminated")

    async def close(self) -> None:
        tasks = []
        for runtime in self._instances.values():
            if runtime.timer is not None:
                runtime.timer.cancel()
            if runtime.userdata is not None and not runtime.userdata.done():
                runtime.userdata.cancel()
                tasks.append(runtime.userdata)
            _power_off(runtime)
        if tasks:
            await asyncio.wait(tasks, timeout=15.0)
        self._instances.clear()

    # --- steps ---

    def _schedule(self, runtime: _Runtime, key: str, step: Callable[[_Runtime, int], None]) -> None:
        generation = runtime.generation
        runtime.timer = self._loop.call_later(self._delay(key), step, runtime, generation)

    def _to_running(self, runtime: _Runtime, generation: int) -> None:
        inst = runtime.launch.instance
        if generation != runtime.generation or moto_state.state(inst) != "pending":
            return
        moto_state.set_state(inst, "running")
        runtime.phase = "running"
        self._events.emit(INSTANCE_RUNNING, runtime.launch.instance_id, address=runtime.launch.address,
                          asg=runtime.launch.asg)
        runtime.host.serve(self._config.imds_port, runtime.imds.factory())
        self._schedule(runtime, "ec2.boot", self._to_booted)

    def _to_booted(self, runtime: _Runtime, generation: int) -> None:
        launch = runtime.launch
        if generation != runtime.generation or moto_state.state(launch.instance) != "running":
            return
        runtime.phase = "booted"
        runtime.boots += 1
        self._events.emit(INSTANCE_BOOTED, launch.instance_id, address=launch.address, asg=launch.asg,
                          boot=runtime.boots)
        runtime.host.serve(self._config.app_port, app_factory(launch.instance_id))
        if runtime.boots == 1 and launch.user_data:  # as cloud-init: user data runs on the first boot only
            run = UserDataRun(launch.instance_id, launch.user_data, self.home_of(launch.instance_id),
                              self._config.endpoint_url, self.imds_url(launch.address),
                              self._config.userdata_timeout_s, dict(self._config.user_env))

            def spawned(pgid: int) -> None:
                runtime.process_group = pgid

            runtime.userdata = self._loop.create_task(run_user_data(run, self._events, spawned))
            runtime.userdata.add_done_callback(_log_failure)

    def _new_life(self, runtime: _Runtime, phase: str) -> None:
        runtime.generation += 1
        runtime.phase = phase
        if runtime.timer is not None:
            runtime.timer.cancel()
            runtime.timer = None
        if phase != "pending" and runtime.userdata is not None and not runtime.userdata.done():
            runtime.userdata.cancel()
        if phase != "pending":
            _power_off(runtime)
        runtime.host.blackhole_all()


def _power_off(runtime: _Runtime) -> None:
    if runtime.process_group is not None:
        kill_process_group(runtime.process_group)
        runtime.process_group = None


def _log_failure(task: asyncio.Task[int | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("user data runner failed", exc_info=task.exception())
