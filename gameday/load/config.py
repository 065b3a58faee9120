"""What load to generate, and where it may go: shapes, users, rate, bounds, and the loopback-only check."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from gameday.errors import ConfigError

SHAPES = ("steady", "10x", "soak")
LOAD_CHOICES = (*SHAPES, "none")
STEP_FACTOR = 10
UNPACED_REQUEST_CAP = 2_000_000  # the count bound when no rate is set (the benchmark's flat-out runs)

# Per shape: users, total requests/s at normal load, and how long the shape runs before it stops itself.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "steady": {"users": 10, "rate": 50.0, "duration_s": 600.0},
    "10x": {"users": 10, "rate": 50.0, "duration_s": 600.0, "step_at_s": 10.0},
    "soak": {"users": 10, "rate": 50.0, "duration_s": 1800.0, "ramp_s": 30.0},
}


@dataclass(frozen=True)
class LoadConfig:
    """One load run. Bounded twice: the shape stops at `duration_s`, the budget at `max_requests`."""

    shape: str = "steady"
    users: int = 10  # normal load; 10x runs ten times as many after `step_at_s`
    rate: float | None = 50.0  # total requests/s at normal load; None: as fast as the users can
    duration_s: float = 600.0
    processes: int = 1  # locust processes on this host (>1: `--processes N`, a master and N workers)
    expect_workers: int = 0  # >0: be a master for workers on other hosts (see `worker_command`)
    master_bind_host: str = "127.0.0.1"
    master_port: int = 0  # 0: pick a free one
    step_at_s: float = 10.0
    ramp_s: float = 10.0
    paths: tuple[str, ...] = ()  # default: the target URL's own path
    # More base URLs (scheme://host:port, loopback) the users spread over with the target's, one per user:
    # load through several addresses of one service (e.g. four static IPs) from one run.
    hosts: tuple[str, ...] = ()
    max_requests: int | None = None  # None: from rate and duration, with headroom
    connect_timeout_s: float = 2.0
    timeout_s: float = 5.0
    stop_grace_s: float = 20.0  # how long locust gets to write its stats before it is killed (10 s was once
    # too short while the whole suite loaded the 2 shared cores)
    start_timeout_s: float = 30.0  # workers must connect within this (master runs)
    nice: int = 10  # locust runs at lower priority than the probes measuring the same failover
    idle: bool = False  # SCHED_IDLE: locust gets only CPU nobody else wants (may then fall short of rate)
    extra_args: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ConfigError(f"unknown load shape {self.shape!r}; one of {', '.join(LOAD_CHOICES)}")
        if self.users < 1:
            raise ConfigError(f"load users must be at least 1, got {self.users}")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError(f"load rate must be positive (requests/s), got {self.rate}")
        if not 0 < self.duration_s <= 24 * 3600:
            raise ConfigError(f"load duration must be between 0 and 24 h, got {self.duration_s} s")
        if self.processes < 1 or self.expect_workers < 0:
            raise ConfigError("load processes must be at least 1 and expected workers not negative")
        if self.processes > 1 and self.expect_workers:
            raise ConfigError("load runs either --processes on this host or a master for other hosts")
        for host in self.hosts:
            check_target(host)

    @classmethod
    def for_shape(cls, shape: str, **overrides: Any) -> LoadConfig:
        """The defaults of a shape, with any non-None override applied."""
        if shape not in SHAPES:
            raise ConfigError(f"unknown load shape {shape!r}; one of {', '.join(LOAD_CHOICES)}")
        values = {**_DEFAULTS[shape], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(shape=shape, **values)

    def with_(self, **changes: Any) -> LoadConfig:
        return replace(self, **changes)

    @property
    def peak_users(self) -> int:
        return self.users * STEP_FACTOR if self.shape == "10x" else self.users

    @property
    def peak_rate(self) -> float | None:
        return None if self.rate is None else self.rate * self.peak_users / self.users

    @property
    def request_budget(self) -> int:
        """The most requests the whole run may send."""
        if self.max_requests is not None:
            return self.max_requests
        if self.peak_rate is None:
            return UNPACED_REQUEST_CAP
        return math.ceil(self.peak_rate * self.duration_s * 1.25) + 1000

    @property
    def request_budget_per_process(self) -> int:
        return math.ceil(self.request_budget / max(self.processes, self.expect_workers, 1))

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "users": self.users, "rate": self.rate, "duration_s": self.duration_s,
                "processes": self.processes, "expect_workers": self.expect_workers,
                "step_at_s": self.step_at_s, "ramp_s": self.ramp_s, "peak_users": self.peak_users,
                "peak_rate": self.peak_rate, "request_budget": self.request_budget,
                "connect_timeout_s": self.connect_timeout_s, "timeout_s": self.timeout_s, "nice": self.nice,
                "idle": self.idle, "hosts": list(self.hosts)}


@dataclass(frozen=True)
class Target:
    """A checked load target: the base URL locust gets as --host, and the paths it requests."""

    url: str
    host_url: str  # scheme://host:port
    path: str  # path with query, at least "/"


def check_target(url: str) -> Target:
    """Accept only http(s) URLs whose host is a loopback address literal (or `localhost`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"load target must be an http(s) URL, got {url!r}")
    host = parts.hostname
    if host != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"load target must be a loopback address, not the name {host!r}: "
                              f"{url}") from None
        mapped = getattr(address, "ipv4_mapped", None)
        if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
            raise ConfigError(f"load target must be on loopback (127.0.0.0/8, ::1), not {host}: {url}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url=url, host_url=f"{parts.scheme}://{parts.netloc}", path=path)
