"""The edge's request path against real loopback origins: failover codes, methods, unreachable primaries,
cache hits that never reach an origin, cached errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloudfront import Edge, parse
from localcloud.cloudfront.config import MANAGED_CACHE_POLICIES
from localcloud.net.async_http import AsyncHttpServer
from localcloud.net.http import Request, Response
from localcloud.net.listener import PortListener
from tests.localcloud.support import tiny_profile

CACHING_DISABLED, CACHING_OPTIMIZED = sorted(MANAGED_CACHE_POLICIES, key=MANAGED_CACHE_POLICIES.__getitem__)


def config(policy: str = CACHING_DISABLED) -> dict[str, Any]:
    def origin(name: str) -> dict[str, Any]:
        return {"Id": name, "DomainName": f"{name}.example", "ConnectionAttempts": 2, "ConnectionTimeout": 10,
                "CustomOriginConfig": {"HTTPPort": 80, "OriginReadTimeout": 30}}
    return {"Origins": [origin("primary"), origin("secondary")],
            "OriginGroups": {"Quantity": 1, "Items": [{
                "Id": "group", "FailoverCriteria": {"StatusCodes": {"Quantity": 2, "Items": [403, 503]}},
                "Members": {"Quantity": 2, "Items": [{"OriginId": "primary"}, {"OriginId": "secondary"}]}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "group", "CachePolicyId": policy,
                                     "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]}}


class Origin:
    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0

    async def __call__(self, request: Request) -> Response:
        self.requests += 1
        return Response(self.status, f"{self.status}\n".encode())


def run_with_origins(tmp_path: Path, primary_status: int | None, secondary_status: int, raw: dict[str, Any],
                     act: Callable[[Edge, Origin, Origin], Awaitable[Any]]) -> Any:
    """Primary None: its address black-holes (connections hang)."""
    profile = tiny_profile(tmp_path)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        primary, secondary = Origin(primary_status or 0), Origin(secondary_status)
        servers = [AsyncHttpServer("127.0.0.1", 0, secondary)]
        ports = {}
        hole = PortListener(loop, "127.0.0.1", 0)
        if primary_status is None:
            hole.open()  # opens black-holed
            ports["primary.example"] = hole.port
        else:
            servers.append(AsyncHttpServer("127.0.0.1", 0, primary))
        for server in servers:
            await server.start()
        ports["secondary.example"] = servers[0].port
        if primary_status is not None:
            ports["primary.example"] = servers[1].port
        edge = Edge(parse("E1", raw, profile), "d1.cloudfront.net",
                    lambda origin: ("127.0.0.1", ports[origin.domain_name]))
        try:
            return await act(edge, primary, secondary)
        finally:
            for server in servers:
                server.close()
            hole.close()

    return asyncio.run(main())


def get(path: str = "/index.html", method: str = "GET") -> Request:
    return Request(method, path, {}, {"host": "d1.cloudfront.net"})


def header(response: Response, name: str) -> str:
    return next(v for k, v in response.headers if k.lower() == name.lower())


def test_a_failover_code_sends_get_to_the_secondary_but_not_post(tmp_path: Path) -> None:
    async def act(edge: Edge, primary: Origin, secondary: Origin) -> tuple[Response, Response]:
        return await edge.handle(get()), await edge.handle(get(method="POST"))

    got, posted = run_with_origins(tmp_path, 403, 200, config(), act)

    assert got.status == 200 and header(got, "X-Served-By") == "secondary"
    assert header(got, "X-Localcloud-Failover") == "primary:403"
    assert posted.status == 403 and header(posted, "X-Served-By") == "primary"


def test_an_unreachable_primary_costs_every_connection_attempt(tmp_path: Path) -> None:
    async def act(edge: Edge, primary: Origin, secondary: Origin) -> tuple[Response, float]:
        started = time.monotonic()
        response = await edge.handle(get())
        return response, time.monotonic() - started

    response, elapsed = run_with_origins(tmp_path, None, 200, config(), act)

    assert response.status == 200 and header(response, "X-Served-By") == "secondary"
    assert header(response, "X-Localcloud-Failover") == "primary:connect-failed"
    assert elapsed >= 2 * 0.1  # ConnectionAttempts 2 x (10 s x the tiny profile's 0.01)


def test_cache_hits_never_reach_an_origin(tmp_path: Path) -> None:
    async def act(edge: Edge, primary: Origin, secondary: Origin) -> tuple[list[str], int]:
        caches = [header(await edge.handle(get()), "X-Cache") for _ in range(3)]
        return caches, primary.requests

    caches, requests = run_with_origins(tmp_path, 200, 200, config(CACHING_OPTIMIZED), act)

    assert caches == ["Miss from cloudfront", "Hit from cloudfront", "Hit from cloudfront"]
    assert requests == 1


@pytest.mark.parametrize("policy", [CACHING_DISABLED])
def test_an_error_from_both_origins_is_cached(tmp_path: Path, policy: str) -> None:
    async def act(edge: Edge, primary: Origin, secondary: Origin) -> tuple[list[int], int]:
        statuses = [(await edge.handle(get())).status for _ in range(2)]
        return statuses, secondary.requests

    statuses, requests = run_with_origins(tmp_path, 503, 503, config(policy), act)

    assert statuses == [503, 503] and requests == 1  # the second answer came from the error cache
