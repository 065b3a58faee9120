"""The application every localcloud instance serves on port 80 once booted: who am I, am I healthy.

It can hang (the control API's port faults): a hung app keeps its port and accepts connections, as a process
stopped with SIGSTOP does (the kernel completes the handshakes), but reads nothing and answers nothing, on
new and open connections alike, while the instance runs on and passes its EC2 status checks. Resumed, it
answers what it was sent meanwhile, as a process continued with SIGCONT does.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from pathlib import Path

from localcloud.net.http import Handler, HttpServerProtocol, Request, Response
from localcloud.net.listener import ProtocolFactory

SERVED_BY = "X-Served-By"
DATA_DIR = "data"  # in the instance's home: where its user data mounts the data volume (EC2: a mount point)
_DATA_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
MAX_DATA_BYTES = 64 * 1024


def data_answer(data: Path, request: Request, served: tuple[tuple[str, str], ...]) -> Response:
    """`GET /data/<name>` reads the file `<name>` of the instance's data directory, `PUT /data/<name>` writes it
    (201): the app keeps its state on its data volume. 503 while no volume is mounted there (the app is up
    without its data), 404 for a file it does not have."""
    name = request.path.removeprefix("/data/")
    if not _DATA_NAME.fullmatch(name):
        return Response(400, b"a data file name is one path segment of letters, digits, '.', '_' and '-'\n",
                        headers=served)
    if not data.is_dir():
        return Response(503, b"no data volume mounted\n", headers=served)
    path = data / name
    if request.method == "PUT":
        if len(request.body) > MAX_DATA_BYTES:
            return Response(413, f"at most {MAX_DATA_BYTES} bytes\n".encode(), headers=served)
        path.write_bytes(request.body)
        return Response(201, b"stored\n", headers=served)
    if not path.is_file():
        return Response(404, f"no {name} on the data volume\n".encode(), headers=served)
    return Response(200, path.read_bytes(), headers=served)


def app_handler(instance_id: str, data: Path | None = None) -> Handler:
    """`GET /` (or `/index.html`, a CDN's default root object) -> `hello from <id>`, `GET /health` -> `ok`;
    with `data` (the instance's data directory), `GET`/`PUT /data/<name>` (`data_answer`). Every answer names
    the instance."""
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
        if data is not None and request.path.startswith("/data/") and request.method in ("GET", "HEAD", "PUT"):
            return data_answer(data, request, served)
        if request.method not in ("GET", "HEAD"):
            return not_allowed
        return pages.get(request.path, not_found)

    return handle


class AppState:
    """One run of the built-in app (a new one at each boot): hung or answering. Loop thread only."""

    def __init__(self) -> None:
        self.hung = False
        self._connections: weakref.WeakSet[_AppProtocol] = weakref.WeakSet()

    def hang(self) -> None:
        self.hung = True

    def resume(self) -> None:
        self.hung = False
        for connection in list(self._connections):
            connection.wake()

    def opened(self, connection: _AppProtocol) -> None:
        self._connections.add(connection)


class _AppProtocol(HttpServerProtocol):
    """A connection to the built-in app: while the app hangs, what arrives waits unread."""

    def __init__(self, handler: Handler, state: AppState) -> None:
        super().__init__(handler)
        self._state = state
        self._held = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._state.opened(self)

    def data_received(self, data: bytes) -> None:
        if self._state.hung or self._held:
            self._held += data
            if self._state.hung:
                return
            data, self._held = bytes(self._held), bytearray()
        super().data_received(data)

    def wake(self) -> None:
        """The app answers again: what waited is read now, in order."""
        if self._held:
            data, self._held = bytes(self._held), bytearray()
            super().data_received(data)


def app_factory(instance_id: str, state: AppState | None = None, data: Path | None = None) -> ProtocolFactory:
    handler = app_handler(instance_id, data)
    app = state if state is not None else AppState()
    return lambda: _AppProtocol(handler, app)
