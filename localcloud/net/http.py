"""A small HTTP/1.1 server protocol (keep-alive, pipelining, Content-Length bodies) for the app
servers, IMDS and the control API. Not a general web server: no chunked request bodies, no TLS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lower-case
    body: bytes = b""
    version: str = "HTTP/1.1"

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()
    _wire: dict[tuple[bool, bool], bytes] = field(default_factory=dict, compare=False, repr=False)

    def encode(self, *, keep_alive: bool, head: bool = False) -> bytes:
        """The response on the wire; cached per (keep_alive, head), so a shared Response costs nothing."""
        cached = self._wire.get((keep_alive, head))
        if cached is not None:
            return cached
        phrase = _phrase(self.status)
        lines = [f"HTTP/1.1 {self.status} {phrase}", f"Content-Length: {len(self.body)}"]
        if self.body or self.content_type != "text/plain":
            lines.append(f"Content-Type: {self.content_type}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
        wire = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else self.body)
        self._wire[(keep_alive, head)] = wire
        return wire


def text(status: int, body: str, **kwargs: Any) -> Response:
    return Response(status, body.encode(), **kwargs)


Handler = Callable[[Request], Response]


class HttpServerProtocol(asyncio.Protocol):
    """One connection: parse requests as they arrive, answer each with `handler(request)` in order."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._frozen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._buf.clear()

    def freeze(self) -> None:
        """The host vanished: read nothing more, answer nothing more."""
        self._frozen = True

    def data_received(self, data: bytes) -> None:
        if self._frozen:
            return
        self._buf += data
        while self._transport is not None and not self._transport.is_closing() and not self._frozen:
            if not self._answer_one():
                return

    def _answer_one(self) -> bool:
        """Answer the first complete request in the buffer; False when more bytes are needed."""
        transport = self._transport
        assert transport is not None
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD_BYTES:
                self._fail(431)
            return False
        parsed = _parse_head(bytes(self._buf[:end]))
        if parsed is None:
            self._fail(400)
            return False
        method, target, version, headers = parsed
        if "chunked" in headers.get("transfer-encoding", ""):
            self._fail(501)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._fail(400)
            return False
        if length < 0 or length > MAX_BODY_BYTES:
            self._fail(413)
            return False
        total = end + 4 + length
        if len(self._buf) < total:
            return False
        body = bytes(self._buf[end + 4:total])
        del self._buf[:total]
        split = urlsplit(target)
        request = Request(method, unquote(split.path) or "/", dict(parse_qsl(split.query)), headers, body, version)
        response = self._handle(request)
        keep_alive = _keep_alive(version, headers)
        transport.write(response.encode(keep_alive=keep_alive, head=method == "HEAD"))
        if not keep_alive:
            transport.close()
            return False
        return True

    def _handle(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:
            log.exception("handler failed for %s %s", request.method, request.path)
            return Response(500, b"internal error\n")

    def _fail(self, status: int) -> None:
        assert self._transport is not None
        self._transport.write(Response(status, _phrase(status).encode() + b"\n").encode(keep_alive=False))
        self._transport.close()
        self._buf.clear()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    try:
        text_head = head.decode("latin-1")
    except UnicodeDecodeError:
        return None
    lines = text_head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            return None
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], parts[2], headers


def _keep_alive(version: str, headers: Mapping[str, str]) -> bool:
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
