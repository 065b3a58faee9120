"""The application every localcloud instance serves on port 80 once booted: who am I, am I healthy."""

from __future__ import annotations

from localcloud.net.http import Handler, HttpServerProtocol, Request, Response
from localcloud.net.listener import ProtocolFactory

SERVED_BY = "X-Served-By"


def app_handler(instance_id: str) -> Handler:
    """`GET /` (or `/index.html`, a CDN's default root object) -> `hello from <id>`, `GET /health` -> `ok`;
    every answer names the instance."""
    served = ((SERVED_BY, instance_id),)
    hello = Response(200, f"hello from {instance_id}\n".encode(), headers=served)
    pages = {
        "/": hello,
        "/index.html": hello,
        "/health": Response(200, b"ok\n", headers=served),
    }
    not_found = Response(404, b"not found\n", headers=served)
    not_allowed = Response(405, b"method not allowed\n", headers=(*served, ("Allow", "GET, HEAD")))

    def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return not_allowed
        return pages.get(request.path, not_found)

    return handle


def app_factory(instance_id: str) -> ProtocolFactory:
    handler = app_handler(instance_id)
    return lambda: HttpServerProtocol(handler)
