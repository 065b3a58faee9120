"""The control API: a tiny HTTP server on 127.0.0.1 for whoever started localcloud (the gameday backend).

    GET /events?since=N[&limit=M]  -> {"events": [{"seq", "at", "kind", "subject", "detail"}], "next": M}
    GET /info                      -> endpoint, region, profile, address block, services, instances
    GET /console/<instance-id>     -> the instance's console log (user data output), text
    /<prefix>/...                  -> a route registered by a part of the cloud (any method; e.g. /spot/)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.events import EventLog
from localcloud.net.http import Handler, HttpServerProtocol, Request, Response, text
from localcloud.net.listener import PortListener, ProtocolFactory

MAX_EVENTS_PER_PAGE = 10_000


def control_handler(events: EventLog, info: Callable[[], dict[str, Any]],
                    console: Callable[[str], str | None], routes: Mapping[str, Handler] | None = None) -> Handler:
    """`routes`: path prefix ("/spot/") -> the handler of every request under it, whatever the method."""
    prefixed = dict(routes or {})

    def handle(request: Request) -> Response:
        for prefix, route in prefixed.items():
            if request.path.startswith(prefix) or request.path == prefix.rstrip("/"):
                return route(request)
        if request.method not in ("GET", "HEAD"):
            return text(405, "method not allowed\n")
        if request.path == "/events":
            try:
                since = int(request.query.get("since", "0"))
                limit = min(int(request.query.get("limit", str(MAX_EVENTS_PER_PAGE))), MAX_EVENTS_PER_PAGE)
            except ValueError:
                return text(400, "since and limit must be integers\n")
            found, next_seq = events.since(since, limit)
            return _json({"events": [e.to_dict() for e in found], "next": next_seq})
        if request.path == "/info":
            return _json(info())
        if request.path.startswith("/console/"):
            output = console(request.path.removeprefix("/console/"))
            return text(200, output) if output is not None else text(404, "no such instance\n")
        return text(404, "not found\n")

    return handle


def _json(data: Any) -> Response:
    return Response(200, json.dumps(data).encode(), content_type="application/json")


class ControlServer:
    """Serves `handler` on 127.0.0.1:<free port>; start and stop on the loop thread."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener: PortListener | None = None

    @property
    def url(self) -> str:
        assert self._listener is not None, "control API not started"
        return f"http://127.0.0.1:{self._listener.port}"

    def start(self) -> None:
        self._listener = PortListener(asyncio.get_running_loop(), "127.0.0.1", 0)
        self._listener.open()
        self._listener.serve(self._factory())

    def _factory(self) -> ProtocolFactory:
        return lambda: HttpServerProtocol(self._handler)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()

