"""Load for the reference stacks' HTTP(S) endpoints, as real clients send it.

Every reference stack serves its users over plain HTTP(S) GETs (the EIP's instance, HAProxy's :443
passthrough, CloudFront in front of a VPC origin or S3, an ALB): the target is the URL the scenario
hands the runner, the paths come from `--gameday-paths`. The user mix is what matters in a failover:

- `KeepAliveClient` (3 of 4): holds its connection open across requests, like browsers, SDKs and
  connection-pooling services do. These are the clients that stay pinned to a dead address.
- `FreshConnectionClient` (1 of 4): asks for `Connection: close`, so every request connects anew (and
  would re-resolve the name), like CLI tools, cron jobs and short-lived functions.

Run by `gameday.load.runner` as a subprocess, never imported next to the probes.
"""

from __future__ import annotations

import itertools
from typing import Any

import gevent
from locust import FastHttpUser, LoadTestShape, constant, constant_throughput, task
from locust.env import Environment

from gameday.load.records import redirect_expected
from loadtest.listener import recorder_of
from loadtest.shapes import SHAPES, ShapeParams, Tick


def endpoint_name(path: str) -> str:
    """Locust's request name for a path: stable, short, and the `<endpoint>` in `load:<endpoint>`."""
    return path.split("?", 1)[0].strip("/") or "root"


_USER_NUMBERS = itertools.count()


def host_of(hosts: str, user_number: int) -> str | None:
    """The base URL this user holds (users spread round-robin over `--gameday-hosts`); None: locust's --host.
    One address per user is what a client does that resolved a weighted name once."""
    found = [h.strip().rstrip("/") for h in hosts.split(",") if h.strip()]
    return found[user_number % len(found)] if found else None


def request_name(host: str | None, path: str) -> str:
    """The endpoint, prefixed with the address when the users spread over several (errors per address)."""
    name = endpoint_name(path)
    return f"{host.split('://', 1)[-1]}/{name}" if host else name


class _GamedayClient(FastHttpUser):
    abstract = True
    headers: dict[str, str] = {}

    def __init__(self, environment: Environment) -> None:
        options = environment.parsed_options
        self.connection_timeout = options.gameday_connect_timeout
        self.network_timeout = options.gameday_timeout
        own_host = host_of(options.gameday_hosts, next(_USER_NUMBERS))
        if own_host is not None:
            self.host = own_host  # this user's own address; FastHttpUser builds its client from it
        super().__init__(environment)
        rate, users = options.gameday_rate, max(1, options.gameday_users)
        self._pace = constant_throughput(rate / users) if rate > 0 else constant(0)
        paths = [p.strip() or "/" for p in options.gameday_paths.split(",")]
        self._paths = itertools.cycle([(p if p.startswith("/") else "/" + p, request_name(own_host, p))
                                       for p in paths])
        self._recorder = recorder_of(environment)

    def wait_time(self) -> float:
        return float(self._pace(self))

    def context(self) -> dict[str, Any]:
        return {"client": type(self).__name__}

    @task
    def get(self) -> None:
        if not self._recorder.take():
            gevent.sleep(1.0)  # the request budget is spent: idle until the shape or the runner stops us
            return
        path, name = next(self._paths)
        # Never followed (a redirect may point off this host, and the page asked for was not served): a 3xx
        # is a failure in locust's own stats too, unless its Location is the one the run expects.
        with self.client.get(path, name=name, headers=self.headers, allow_redirects=False,
                             catch_response=True) as response:
            status = response.status_code or 0
            location = response.headers.get("Location") if response.headers is not None else None
            if 300 <= status < 400 and not redirect_expected(status, location, self._recorder.expect_location):
                response.failure(f"{status} redirect to {location or 'nowhere (no Location)'}")


class KeepAliveClient(_GamedayClient):
    weight = 3


class FreshConnectionClient(_GamedayClient):
    weight = 1
    headers = {"Connection": "close"}


class GamedayShape(LoadTestShape):
    """Adapts the shape named by `--gameday-shape` (see loadtest/shapes.py) to locust."""

    use_common_options = False

    def tick(self) -> Tick:
        options = self.runner.environment.parsed_options if self.runner else None
        if options is None:
            return None
        params = ShapeParams(users=options.gameday_users, duration_s=options.gameday_duration,
                             step_at_s=options.gameday_step_at, ramp_s=options.gameday_ramp)
        return SHAPES[options.gameday_shape](self.get_run_time(), params)
