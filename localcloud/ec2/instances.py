"""Instance lifecycle on the data plane: pending -> running -> booted (app up, user data run) -> gone.

Every step waits the profile's delay. A step scheduled for an earlier life of the instance (before a
stop, a start or a termination) finds the generation changed and does nothing.

The app port (80) and user data. An instance without user data serves localcloud's built-in app on it
from boot. An instance with user data leaves the port free while the script runs (localcloud does not
even bind it), so that a server the script starts (`python3 -m http.server 80 --bind <local-ipv4>`,
HAProxy, an app) can bind it. When the script has ended, localcloud decides once, from facts in /proc:

- a socket listens on <instance address>:80: it is the instance's own server, for the rest of the
  instance's life (if it dies, the port refuses, as on EC2; the built-in app never takes it over);
- nothing listens and nothing the script started still runs: the script only bootstrapped (claimed an
  address, registered a name), and the built-in app takes the port at once;
- nothing listens yet but something the script started still runs (a server still starting, a slow
  JVM, HAProxy on other ports, a background loop): localcloud keeps looking, and decides as above when
  either happens. Until then the port refuses, like a host whose server is not up yet.

Why this and not a grace period or guessing from the script: the outcome depends only on what the
script and its processes do, never on how fast this machine runs them, so it is the same in every
run; a server that takes 20 s to bind gets its port exactly like one that takes 20 ms. Nothing is
asked of the script that AWS would not run as it is (no localcloud flag, no tag). The one rule a
script must follow is EC2's own good practice: bind the instance's private address from IMDS
(`local-ipv4`), not 0.0.0.0, since on this host every instance shares the loopback interface.

The user's server sees what the built-in app sees: its address is the instance address, an Elastic IP
forwards the port to it (`Mirror`), security groups and network ACLs black-hole it at the public
address, and when the instance stops or terminates its processes are killed and localcloud takes the
port back black-holed (an instance that is gone hangs connections; it does not refuse them).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.ec2 import moto_state, processes
from localcloud.ec2.app import DATA_DIR, AppState, app_factory
from localcloud.ec2.imds import Credentials, Imds
from localcloud.ec2.userdata import UserDataRun, run_user_data
from localcloud.events import INSTANCE_BOOTED, INSTANCE_RUNNING, EventLog
from localcloud.iam.credentials import CredentialRegistry
from localcloud.net.hosts import Host, HostTable
from localcloud.net.listener import Mode

log = logging.getLogger(__name__)

APP_PORT_EVENT = "localcloud.instance.app_port"  # who serves the app port after the user data: detail owner
OWNER_APP = "localcloud"  # the built-in app
OWNER_USER_DATA = "user-data"  # a process the user data started
# Looks at who took the app port, then every 5 s while the script's processes run. The user's server does not
# wait for a look (the port is free, an Elastic IP forwards it); only the built-in app and the event do.
_SETTLE_POLL_S = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
_RECLAIM_POLL_S = 0.01
_RECLAIM_GIVE_UP_S = 10.0  # a killed process lets go of its socket within milliseconds
_CLOSE_WAIT_S = 5.0


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
    credentials: CredentialRegistry | None = None  # where IMDS registers the role credentials it serves
    vpc_resolver: Callable[[str], tuple[str, int]] | None = None  # a VPC's resolver (host, port); blocks


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
    ran_user_data: bool = False  # processes of this instance may exist (the marker scan is worth doing)
    app_owner: str | None = None  # OWNER_APP | OWNER_USER_DATA once decided (None: not yet, or no user data)
    settle: asyncio.TimerHandle | None = None  # the next look at who took the app port
    reclaim: asyncio.TimerHandle | None = None  # taking the app port back from killed processes
    app: AppState | None = None  # the built-in app's current run, while it serves the app port


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
                    user_data=launch.user_data, registry=self._config.credentials)
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

    def app_of(self, instance_id: str) -> AppState | None:
        """The built-in app's run on a booted instance (None: not booted, or its port is the user data's)."""
        runtime = self._instances.get(instance_id)
        if runtime is None or runtime.phase != "booted":
            return None
        return runtime.app

    @property
    def app_port(self) -> int:
        return self._config.app_port

    def address_of(self, instance_id: str) -> str | None:
        runtime = self._instances.get(instance_id)
        return runtime.launch.address if runtime is not None else None

    def app_owner_of(self, instance_id: str) -> str | None:
        """Who serves the app port after the user data: OWNER_APP, OWNER_USER_DATA, None (undecided)."""
        runtime = self._instances.get(instance_id)
        return runtime.app_owner if runtime is not None else None

    async def close(self) -> None:
        tasks = []
        ran = [r for r in self._instances.values() if r.ran_user_data]
        for runtime in self._instances.values():
            for handle in (runtime.timer, runtime.settle, runtime.reclaim):
                if handle is not None:
                    handle.cancel()
            if runtime.userdata is not None and not runtime.userdata.done():
                runtime.userdata.cancel()
                tasks.append(runtime.userdata)
        if tasks:
            await asyncio.wait(tasks, timeout=15.0)
        # Whatever the user data left running (servers holding ports) ends with the cloud, and the cloud
        # waits for it to be gone: stop() returns with no process and no port left behind.
        markers, groups = [self._marker(r) for r in ran], [r.process_group for r in ran if r.process_group]
        if markers:
            processes.kill_instances(markers, groups)
            deadline = self._loop.time() + _CLOSE_WAIT_S
            while processes.instance_pids(markers, groups) and self._loop.time() < deadline:
                await asyncio.sleep(0.02)
                processes.kill_instances(markers, groups)
            left = processes.instance_pids(markers, groups)
            if left:
                log.warning("user data processes still alive after stop: %s", left)
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
        if runtime.boots == 1 and launch.user_data:  # as cloud-init: user data runs on the first boot only
            # The app port is the script's until it ends (the module docstring says why).
            runtime.host.release(self._config.app_port)
            run = UserDataRun(launch.instance_id, launch.user_data, self.home_of(launch.instance_id),
                              self._config.endpoint_url, self.imds_url(launch.address),
                              self._config.userdata_timeout_s, dict(self._config.user_env),
                              self._vpc_resolver(launch))

            def spawned(pgid: int) -> None:
                runtime.process_group = pgid

            def ended() -> None:
                self._settle(runtime, generation, 0)

            runtime.ran_user_data = True
            runtime.userdata = self._loop.create_task(run_user_data(run, self._events, spawned, ended))
            runtime.userdata.add_done_callback(_log_failure)
        elif runtime.app_owner == OWNER_USER_DATA:
            # A later boot (start after stop): user data does not run again, and the server it started was
            # not a service, so nothing answers on the port (as on EC2 with a server started by hand).
            runtime.host.release(self._config.app_port)
        else:
            self._serve_app(runtime)

    def _vpc_resolver(self, launch: Launch) -> Callable[[], tuple[str, int]] | None:
        """The instance's VPC resolver, for the user data's resolv.conf (None: the cloud runs none)."""
        vpc_id = launch.instance.vpc_id
        if self._config.vpc_resolver is None or not vpc_id:
            return None
        return functools.partial(self._config.vpc_resolver, str(vpc_id))

    def _serve_app(self, runtime: _Runtime) -> bool:
        port = self._config.app_port
        listener = runtime.host.listener(port)
        if listener is not None and listener.mode is Mode.RELEASED and not runtime.host.reclaim(port):
            log.warning("%s: %s:%s is held by another process; the built-in app does not serve it",
                        runtime.launch.instance_id, runtime.launch.address, port)
            return False
        runtime.app = AppState()  # a new boot runs the app afresh (a hang ends with the instance's life)
        home = self.home_of(runtime.launch.instance_id)
        runtime.host.serve(port, app_factory(runtime.launch.instance_id, runtime.app, data=home / DATA_DIR))
        return True

    def _settle(self, runtime: _Runtime, generation: int, looks: int) -> None:
        """Decide who serves the app port once the user data has ended (see the module docstring)."""
        runtime.settle = None
        if generation != runtime.generation or runtime.app_owner is not None:
            return
        launch, port = runtime.launch, self._config.app_port
        if processes.listening(launch.address, port):
            self._decided(runtime, OWNER_USER_DATA)
            return
        groups = [runtime.process_group] if runtime.process_group else []
        if not processes.instance_pids([self._marker(runtime)], groups):
            self._decided(runtime, OWNER_APP if self._serve_app(runtime) else OWNER_USER_DATA)
            return
        wait = _SETTLE_POLL_S[min(looks, len(_SETTLE_POLL_S) - 1)]
        runtime.settle = self._loop.call_later(wait, self._settle, runtime, generation, looks + 1)

    def _decided(self, runtime: _Runtime, owner: str) -> None:
        runtime.app_owner = owner
        self._events.emit(APP_PORT_EVENT, runtime.launch.instance_id, address=runtime.launch.address,
                          port=self._config.app_port, owner=owner)

    def _reclaim(self, runtime: _Runtime, deadline: float) -> None:
        """Take the app port back, black-holed, once the killed processes have let go of it."""
        runtime.reclaim = None
        listener = runtime.host.listener(self._config.app_port)
        if listener is None or listener.mode is not Mode.RELEASED or runtime.phase == "booted":
            return
        if runtime.host.reclaim(self._config.app_port):
            return
        if self._loop.time() >= deadline:
            log.warning("%s:%s still held after %s was powered off", runtime.launch.address,
                        self._config.app_port, runtime.launch.instance_id)
            return
        runtime.reclaim = self._loop.call_later(_RECLAIM_POLL_S, self._reclaim, runtime, deadline)

    def _new_life(self, runtime: _Runtime, phase: str) -> None:
        runtime.generation += 1
        runtime.phase = phase
        for handle in (runtime.timer, runtime.settle):
            if handle is not None:
                handle.cancel()
        runtime.timer = runtime.settle = None
        if phase != "pending" and runtime.userdata is not None and not runtime.userdata.done():
            runtime.userdata.cancel()
        if phase != "pending":
            self._power_off(runtime)
        runtime.host.blackhole_all()
        if runtime.reclaim is None:
            self._reclaim(runtime, self._loop.time() + _RECLAIM_GIVE_UP_S)

    def _power_off(self, runtime: _Runtime) -> None:
        """Kill what the user data left running: its process group, and what detached from it."""
        if runtime.ran_user_data:
            groups = [runtime.process_group] if runtime.process_group is not None else []
            processes.kill_instances([self._marker(runtime)], groups)
        runtime.process_group = None

    def _marker(self, runtime: _Runtime) -> str:
        """What the instance's processes carry (UserDataRun.marker): its directory, unique across clouds."""
        return str(self.home_of(runtime.launch.instance_id))


def _log_failure(task: asyncio.Task[int | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("user data runner failed", exc_info=task.exception())
