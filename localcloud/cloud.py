"""LocalCloud: moto as the AWS API plus the physics moto lacks, in one process, started and stopped as one.

Inside: moto's HTTP server on a free 127.0.0.1 port, the data plane (one asyncio loop thread:
instance app servers, IMDS, Elastic IP routing, black holes), a control worker thread for the moto
calls the physics makes itself (Auto Scaling replacements), the control API, and any registered
services (the DNS server and the caching resolver). `stop()` undoes whatever `start()` got to, in
reverse order, also after a failed start.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from localcloud.cfn import CfnFixes
from localcloud.control import ControlServer, control_handler
from localcloud.ec2.instances import FleetConfig
from localcloud.ec2.physics import Ec2Physics, PhysicsConfig
from localcloud.ec2.port_faults import PortFaults, port_faults_control
from localcloud.ec2.spot import spot_control
from localcloud.ec2.userdata import system_resolver_unavailable
from localcloud.ec2.volumes import EbsVolumes
from localcloud.ec2.zones import zone_control
from localcloud.errors import LocalCloudError
from localcloud.events import EventLog
from localcloud.hooks import MotoHooks, hooks_installed
from localcloud.iam import CredentialRegistry, IamEnforcer
from localcloud.loop import LoopThread
from localcloud.motoserver import MotoServer
from localcloud.net.pool import AddressPool
from localcloud.profiles import Profile
from localcloud.route53.seams import AliasTable

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {"aws_access_key_id": "localcloud", "aws_secret_access_key": "localcloud"}


class Service(Protocol):
    """Something that runs with the cloud (DNS server, caching resolver, …)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """JSON-able facts for /info; a resolver service gives at least `host` and `port`."""
        ...


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    factory: Callable[[LocalCloud], Service]  # called at start, with the cloud's pool, loop, events, endpoint
    resolver_kind: str | None = None  # "authoritative" | "caching": also listed under "dns" (the ready line)


def default_services() -> list[ServiceSpec]:
    """Services every cloud runs, started in this order after the core: the authoritative DNS server for
    every hosted zone, then the caching resolver (unbound) in front of it, then Cloud Map's records."""
    from localcloud.fis import fis_services
    from localcloud.route53.services import dns_services

    return [*dns_services(), *vpc_resolver_services(), *cloudmap_services(), *edge_services(), *net_services(),
            *compute_services(), *fis_services()]


def vpc_resolver_services() -> list[ServiceSpec]:
    """Each VPC's own resolver (AWS's VPC+2) in front of the authoritative server: the instances' system resolver."""
    from localcloud.resolver import VpcResolvers

    return [ServiceSpec(VPC_RESOLVER, VpcResolvers.for_cloud)]


def cloudmap_services() -> list[ServiceSpec]:
    """Cloud Map's namespaces and registrations as records in the authoritative server's zones."""
    from localcloud.cloudmap import CloudMapService

    return [ServiceSpec("cloudmap", CloudMapService)]


def compute_services() -> list[ServiceSpec]:
    """Lambda handlers that run (directly, or from SNS) and lifecycle hooks that hold launching and terminating
    instances."""
    from localcloud.lambdas import LambdaService
    from localcloud.lifecycle import LifecycleService

    return [ServiceSpec("lambda", LambdaService), ServiceSpec("asg-lifecycle", LifecycleService)]


def net_services() -> list[ServiceSpec]:
    """Security groups and network ACLs enforced on the public addresses."""
    from localcloud.net.firewall import Firewall

    return [ServiceSpec("firewall", Firewall)]


def edge_services() -> list[ServiceSpec]:
    """S3's per-region endpoints, CloudFront's edges (which fetch from them), ALBs and ECS tasks."""
    from localcloud.cloudfront import CloudFrontService
    from localcloud.elb import ContainerService
    from localcloud.s3 import S3DataPlane

    return [ServiceSpec("s3", S3DataPlane),
            ServiceSpec("cloudfront", lambda cloud: CloudFrontService(cloud, cloud.service("s3"))),  # type: ignore[arg-type]
            ServiceSpec("ecs-elb", ContainerService)]


VPC_RESOLVER = "vpc-resolver"  # the service whose resolvers instances get in /etc/resolv.conf
# Ports an Elastic IP forwards: the instance's app, and HAProxy's TLS passthrough and health endpoint.
PUBLIC_PORTS = (80, 443, 9000)


class LocalCloud:
    def __init__(self, profile: Profile, *, seed: int | None = None, region: str = "us-east-1",
                 services: Sequence[ServiceSpec] | None = None, userdata_timeout_s: float = 300.0,
                 app_port: int = 80, imds_port: int = 8169, public_ports: Sequence[int] = PUBLIC_PORTS) -> None:
        self.profile = profile
        self.seed = seed
        self.region = region
        self.events = EventLog()
        self.rng = random.Random(seed)
        self.pool = AddressPool()
        self.aliases = AliasTable()  # outside alias targets (CloudFront, ALB names) the cloud's DNS answers
        self.loop = LoopThread()
        self.credentials = CredentialRegistry()  # role sessions of instances and functions; their calls meet IAM
        self._services = list(default_services() if services is None else services)
        self._userdata_timeout_s = userdata_timeout_s
        self._ports = (app_port, imds_port, tuple(public_ports))
        self._started: dict[str, Service] = {}
        self._cleanups: list[tuple[str, Callable[[], None]]] = []
        self._user_env: dict[str, str] = {}  # what user data sees besides AWS's own variables
        self._moto: MotoServer | None = None
        self._control: ControlServer | None = None
        self._physics: Ec2Physics | None = None
        self._workdir: Path | None = None
        self._state = "new"

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the rest of the world needs ---

    @property
    def endpoint_url(self) -> str:
        if self._moto is None:
            raise LocalCloudError("LocalCloud not started")
        return self._moto.endpoint_url

    @property
    def control_url(self) -> str:
        if self._control is None:
            raise LocalCloudError("LocalCloud not started")
        return self._control.url

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise LocalCloudError("LocalCloud not started")
        return self._workdir

    @property
    def physics(self) -> Ec2Physics:
        if self._physics is None:
            raise LocalCloudError("LocalCloud not started")
        return self._physics

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for this cloud (dummy credentials, this endpoint)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session(**DUMMY_CREDENTIALS, region_name=region or self.region).client(
            service, endpoint_url=self.endpoint_url, config=Config(inject_host_prefix=False))

    def register_service(self, spec: ServiceSpec) -> None:
        """Run `spec` with the cloud: started after the core (at once if already running), stopped before it."""
        if spec.name in {s.name for s in self._services}:
            raise LocalCloudError(f"service {spec.name!r} already registered")
        self._services.append(spec)
        if self._state == "running":
            self._start_service(spec)

    def service(self, name: str) -> Service:
        return self._started[name]

    def console_output(self, instance_id: str) -> str | None:
        if self._workdir is None or "/" in instance_id or instance_id.startswith("."):
            return None
        path = self._workdir / instance_id / "console.log"
        if not (self._workdir / instance_id).is_dir():
            return None
        return path.read_text(errors="replace") if path.is_file() else ""

    def info(self) -> dict[str, Any]:
        app_port, imds_port, public_ports = self._ports
        described = {name: svc.describe() for name, svc in self._started.items()}
        return {
            "endpoint_url": self.endpoint_url, "control_url": self.control_url, "region": self.region,
            "profile": self.profile.name, "seed": self.seed, "pid": os.getpid(),
            "address_block": str(self.pool.network), "workdir": str(self.workdir),
            "ports": {"app": app_port, "imds": imds_port, "public": list(public_ports)},
            "dns": {s.name: {**described[s.name], "kind": s.resolver_kind}
                    for s in self._services if s.resolver_kind and s.name in described},
            "services": described,
        }

    # --- start / stop ---

    def start(self) -> LocalCloud:
        if self._state != "new":
            if self._state == "running":
                return self
            raise LocalCloudError(f"a LocalCloud cannot start again once {self._state}")
        self._state = "starting"
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._state = "running"
        return self

    def stop(self) -> None:
        """Stop everything started so far, newest first; logs (never raises) what fails to stop. Idempotent."""
        if self._state in ("new", "stopped"):
            self._state = "stopped"
            return
        while self._cleanups:
            name, cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception:
                log.exception("stopping %s failed", name)
        self._started.clear()
        self._state = "stopped"

    def _on_stop(self, name: str, cleanup: Callable[[], None]) -> None:
        self._cleanups.append((name, cleanup))

    def _start(self) -> None:
        if hooks_installed():
            raise LocalCloudError("another LocalCloud is running in this process (moto's state is per process)")
        self.pool.claim()
        self._on_stop("address pool", self.pool.close)
        self._workdir = Path(tempfile.mkdtemp(prefix="localcloud-"))
        self._on_stop("work directory", lambda: shutil.rmtree(self.workdir, ignore_errors=True))
        _reset_moto(self.seed)
        self._on_stop("moto state", lambda: _reset_moto(None))
        self.loop.start()
        self._on_stop("data-plane loop", self.loop.stop)
        app_port, imds_port, public_ports = self._ports
        _check_bind(self.pool.allocate_service("port-check"), app_port)
        control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localcloud-control")
        self._on_stop("control worker", lambda: control.shutdown(wait=True, cancel_futures=True))
        self._moto = MotoServer(wrap=lambda app: IamEnforcer(app, self.credentials, self.events))
        self._moto.start()
        self._on_stop("moto server", self._moto.stop)
        fleet = FleetConfig(self.endpoint_url, self.workdir, self._userdata_timeout_s, app_port, imds_port,
                            self._user_env, credentials=self.credentials,
                            vpc_resolver=self._vpc_resolver_of if self._runs_vpc_resolvers() else None)
        self._physics = Ec2Physics(self.loop, self.pool, self.events, self.profile, self.rng, control,
                                   PhysicsConfig(fleet, public_ports))
        self._physics.start()
        self._on_stop("ec2 physics", self._physics.close)
        cfn = CfnFixes()
        cfn.install()
        self._on_stop("cloudformation fixes", cfn.uninstall)
        hooks = MotoHooks(self._physics)
        hooks.install()
        self._on_stop("moto hooks", hooks.uninstall)
        volumes = EbsVolumes(self.loop, self.events, self._physics.delay, self.workdir)
        volumes.install()
        self._on_stop("ebs volumes", volumes.uninstall)
        _warm_up(self.region)
        routes = {"/spot/": spot_control(self._physics.capacity, self._physics.spot),
                  "/instances/": port_faults_control(PortFaults(self._physics.fleet, self.events))}
        routes["/zones/"] = zone_control(self._physics.zone_lost, self._physics.zone_restored, self._physics.zones)
        self._control = ControlServer(control_handler(self.events, self.info, self.console_output, routes))
        self.loop.call(self._control.start)
        self._on_stop("control API", lambda: self.loop.call(self._stop_control))
        for spec in self._services:
            self._start_service(spec)
        self._user_env.update(_vpc_resolver_env(self._started))
        if self._runs_vpc_resolvers():
            system_resolver_unavailable()  # probed (and warned about) now rather than at the first boot

    def _runs_vpc_resolvers(self) -> bool:
        return any(spec.name == VPC_RESOLVER for spec in self._services)

    def _vpc_resolver_of(self, vpc_id: str) -> tuple[str, int]:
        """The VPC's resolver for an instance's resolv.conf (worker thread: it may start unbound)."""
        return self._started[VPC_RESOLVER].address_for(vpc_id)  # type: ignore[attr-defined]

    def _stop_control(self) -> None:
        if self._control is not None:
            self._control.stop()

    def _start_service(self, spec: ServiceSpec) -> None:
        service = spec.factory(self)
        service.start()
        self._started[spec.name] = service
        self._on_stop(f"service {spec.name}", service.stop)


def _vpc_resolver_env(started: dict[str, Service]) -> dict[str, str]:
    """The caching resolver as the instances' VPC resolver (AWS: VPC+2, or 169.254.169.253)."""
    caching = started.get("caching")
    if caching is None:
        return {}
    facts = caching.describe()
    return {"VPC_DNS_RESOLVER": f"{facts['host']}:{facts['port']}"}


def _reset_moto(seed: int | None) -> None:
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    if seed is not None:
        mock_random.seed(seed)


def _warm_up(region: str) -> None:
    """Load the EC2 backend (AMIs, instance types: about a second) before the first API call needs it."""
    from moto.backends import get_backend

    for service in ("ec2", "autoscaling", "cloudformation"):
        _ = get_backend(service)[ACCOUNT_ID][region]


def _check_bind(address: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except PermissionError:
            raise LocalCloudError(
                f"cannot bind port {port} on loopback addresses: run as root or grant CAP_NET_BIND_SERVICE "
                f"(sudo setcap cap_net_bind_service=+ep {os.path.realpath(sys.executable)})") from None
