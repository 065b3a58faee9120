"""ECS tasks serve only what their image serves: stock nginx's pages for the nginx image, and for an image
localcloud does not know, nothing: the task stops with a reason naming the image, and is retried with a
back-off, never answering for the service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from localcloud.ecs import Container, Reconciler, image_handler, nginx_version
from localcloud.net.http import Request
from localcloud.net.pool import AddressPool
from tests.localcloud.support import http_get

REACTION_S = 0.05


@dataclass
class FakeService:
    name: str = "web"
    desired_count: int = 1
    status: str = "ACTIVE"
    task_definition: str = "web:1"
    load_balancers: list[dict[str, Any]] = field(default_factory=lambda: [{"containerPort": 8080}])
    running_count: int = 0
    pending_count: int = 0


def get(image: str, path: str, *, overridden: bool = False, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    handler = image_handler(Container(image, overridden))
    assert handler is not None
    response = handler(Request(method, path, {}, {}, b"", "HTTP/1.1"))
    return response.status, dict(response.headers), response.body


@pytest.mark.parametrize("image", ["public.ecr.aws/nginx/nginx:stable", "nginx", "nginx:1.27.3-alpine",
                                   "public.ecr.aws/docker/library/nginx:mainline", "docker.io/library/nginx:latest",
                                   "nginx@sha256:" + "0" * 64])
def test_the_nginx_image_answers_its_welcome_page_and_404_elsewhere(image: str) -> None:
    status, headers, body = get(image, "/")
    assert status == 200 and b"<title>Welcome to nginx!</title>" in body
    assert headers["Server"].startswith("nginx/")
    status, headers, body = get(image, "/health")
    assert status == 404 and b"<title>404 Not Found</title>" in body and headers["Server"].startswith("nginx/")
    assert "X-Served-By" not in headers  # nginx does not name the task: its address does
    assert get(image, "/", method="POST")[0] == 405


def test_the_server_header_names_the_version_of_the_tag() -> None:
    assert nginx_version("1.27.3-alpine") == "1.27.3"
    assert nginx_version("stable-alpine") == nginx_version("stable") != nginx_version("mainline")
    assert get("nginx:1.25.4", "/")[1]["Server"] == "nginx/1.25.4"


@pytest.mark.parametrize(("image", "overridden"), [("httpd:2.4", False), ("my-team/app:1", False),
                                                   ("nginxinc/nginx-unprivileged:stable", False),
                                                   ("public.ecr.aws/nginx/nginx:stable", True)])
def test_an_image_localcloud_does_not_know_serves_nothing(image: str, overridden: bool) -> None:
    assert image_handler(Container(image, overridden)) is None


async def _run_one(pool: AddressPool, container: Container, wait_s: float) -> tuple[list[dict[str, Any]], Any]:
    events: list[dict[str, Any]] = []
    reconciler = Reconciler(pool, {}, lambda key: REACTION_S, lambda service: 0.1,
                            lambda kind, subject, **detail: events.append({"task": subject, **detail}), dict,
                            lambda service: container)
    service = FakeService()
    try:
        deadline = asyncio.get_running_loop().time() + wait_s
        while asyncio.get_running_loop().time() < deadline:
            reconciler.tick({"c:web": service})
            await asyncio.sleep(REACTION_S / 2)
        return events, reconciler.describe()
    finally:
        reconciler.close()


def test_an_nginx_task_serves_stock_nginx_on_its_own_address() -> None:
    pool = AddressPool()
    pool.claim()
    try:
        assert asyncio.run(_serving(pool)) == (200, "nginx/1.28.0", 404)
    finally:
        pool.close()


async def _serving(pool: AddressPool) -> tuple[int, str, int]:
    """Start one nginx task, ask it `/` and `/health` while it runs."""
    events: list[dict[str, Any]] = []
    reconciler = Reconciler(pool, {}, lambda key: REACTION_S, lambda service: 0.1,
                            lambda kind, subject, **detail: events.append({"task": subject, **detail}), dict,
                            lambda service: Container("public.ecr.aws/nginx/nginx:stable"))
    service = FakeService()
    loop = asyncio.get_running_loop()
    try:
        for _ in range(40):  # bounded: the task runs after one reaction
            reconciler.tick({"c:web": service})
            if service.running_count:
                break
            await asyncio.sleep(REACTION_S / 2)
        [running] = [e for e in events if e["state"] == "RUNNING"]
        root = await loop.run_in_executor(None, lambda: http_get(running["address"], "/", port=8080))
        health = await loop.run_in_executor(None, lambda: http_get(running["address"], "/health", port=8080))
        return root[0], root[1]["server"], health[0]
    finally:
        reconciler.close()


def test_a_task_of_an_unknown_image_stops_with_its_reason_and_is_retried_with_a_back_off() -> None:
    pool = AddressPool()
    pool.claim()
    try:
        events, described = asyncio.run(_run_one(pool, Container("my-team/app:1"), REACTION_S * 12))
    finally:
        pool.close()

    stopped = [e for e in events if e["state"] == "STOPPED"]
    assert stopped and not [e for e in events if e["state"] == "RUNNING"]
    assert stopped[0]["stopped_reason"].startswith("localcloud does not know what image my-team/app:1 serves; "
                                                   "it runs: nginx (")
    # 12 reactions: without a back-off about 11 tasks would have stopped; doubling, 1 + 2 + 4 = 7 reactions
    # hold at most 3 (the fourth waits 8)
    assert 2 <= len(stopped) <= 4, [e["task"] for e in stopped]
    assert all(t["address"] is None for tasks in described.values() for t in tasks)
