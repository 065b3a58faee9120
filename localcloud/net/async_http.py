"""HTTP/1.1 for proxies on the data plane (CloudFront edges, ALBs): a server whose handler awaits, and
a one-request client with separate connect and read timeouts. Same limits as net/http: Content-Length
bodies only, no TLS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from localcloud.net.http import MAX_BODY_BYTES, MAX_HEAD_BYTES, Request, Response, _keep_alive, _parse_head

log = logging.getLogger(__name__)

AsyncHandler = Callable[[Request], Awaitable[Response]]
MAX_REQUESTS_PER_CONNECTION = 10_000
IDLE_TIMEOUT_S = 30.0


def close_server(server: asyncio.Server) -> None:
    """Stop accepting now and close the listening sockets on the next loop tick; call on the loop.

    A bare `Server.close()` leaks any connection accepted earlier in the same tick (CPython 3.11):
    its transport is built on the next tick, `Server._attach` asserts the server still has sockets,
    asyncio swallows the error, and the accepted socket stays open, unanswered, until the garbage
    collector finds it: the client hangs instead of being reset. Removing the accept callback first
    and closing with `call_soon` lets transports already under way attach before the close.
    Coroutines that need the listener gone before they go on `await asyncio.sleep(0)` after this.
    """
    loop = server.get_loop()
    for sock in server.sockets:
        loop.remove_reader(sock.fileno())
    loop.call_soon(server.close)


class AsyncHttpServer:
    """Serves `handler` on (host, port) on the running loop; `close()` ends every connection."""

    def __init__(self, host: str, port: int, handler: AsyncHandler, *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self._handler = handler
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True,
                                                  ssl=self._tls, ssl_handshake_timeout=10.0 if self._tls else None)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self._server is not None:
            close_server(self._server)
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            for _ in range(MAX_REQUESTS_PER_CONNECTION):
                request = await asyncio.wait_for(_read_request(reader), IDLE_TIMEOUT_S)
                if request is None:
                    break
                try:
                    response = await self._handler(request)
                except Exception:
                    log.exception("handler failed for %s %s", request.method, request.path)
                    response = Response(500, b"internal error\n")
                keep = _keep_alive(request.version, request.headers)
                writer.write(response.encode(keep_alive=keep, head=request.method == "HEAD"))
                await writer.drain()
                if not keep:
                    break
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError,
                ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    if len(head) > MAX_HEAD_BYTES:
        return None
    parsed = _parse_head(head[:-4])
    if parsed is None:
        return None
    method, target, version, headers = parsed
    length = int(headers.get("content-length", "0") or 0)
    if not 0 <= length <= MAX_BODY_BYTES:
        return None
    body = await reader.readexactly(length) if length else b""
    split = urlsplit(target)
    return Request(method, unquote(split.path) or "/", dict(parse_qsl(split.query)), headers, body, version)


class UpstreamError(Exception):
    """No answer from upstream: `stage` is "connect" (refused or no handshake in time) or "read"."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(detail)
        self.stage = stage


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


async def fetch(address: str, port: int, method: str, path: str, headers: Mapping[str, str], *,
                connect_timeout_s: float, read_timeout_s: float) -> UpstreamResponse:
    """One request on a fresh connection."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), connect_timeout_s)
    except TimeoutError:
        raise UpstreamError("connect", f"no answer to the TCP handshake within {connect_timeout_s:.3g} s") from None
    except OSError as exc:
        raise UpstreamError("connect", f"connect failed: {exc}") from None
    try:
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return await asyncio.wait_for(_read_response(reader, method), read_timeout_s)
    except TimeoutError:
        raise UpstreamError("read", f"no response within {read_timeout_s:.3g} s") from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise UpstreamError("read", f"bad response: {exc}") from None
    finally:
        writer.transport.abort()


async def _read_response(reader: asyncio.StreamReader, method: str) -> UpstreamResponse:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if method == "HEAD" or status in (204, 304) or length <= 0:
        return UpstreamResponse(status, headers, b"")
    if length > MAX_BODY_BYTES:
        raise ValueError(f"body of {length} bytes")
    return UpstreamResponse(status, headers, await reader.readexactly(length))
