"""The application every localcloud instance serves on port 80 once booted: who am I, am I healthy."""

from __future__ import annotations

import re
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


def app_factory(instance_id: str, data: Path | None = None) -> ProtocolFactory:
    handler = app_handler(instance_id, data)
    return lambda: HttpServerProtocol(handler)
