"""TCP forwarding for ports localcloud does not serve itself (e.g. a real HAProxy on an instance's address)."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class ForwardProtocol(asyncio.Protocol):
    """Client side of one forwarded connection: bytes go to (host, port) and back, with flow control.

    If the target cannot be reached the client connection is reset, as NAT to a closed port would be.
    """

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0) -> None:
        self._target = (host, port)
        self._timeout = connect_timeout
        self._client: asyncio.Transport | None = None
        self._upstream: asyncio.Transport | None = None
        self._pending = bytearray()
        self._client_eof = False
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._client = transport  # type: ignore[assignment]
        self._task = asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _UpstreamProtocol(self), *self._target), self._timeout)
        except (TimeoutError, OSError) as exc:
            log.debug("forward to %s:%s failed: %s", *self._target, exc)
            if self._client is not None:
                self._client.abort()
            return
        if self._client is None or self._client.is_closing():
            upstream.close()
            return
        self._upstream = upstream
        if self._pending:
            upstream.write(bytes(self._pending))
            self._pending.clear()
        if self._client_eof and upstream.can_write_eof():
            upstream.write_eof()

    def data_received(self, data: bytes) -> None:
        if self._upstream is not None:
            self._upstream.write(data)
        else:
            self._pending += data

    def eof_received(self) -> bool:
        self._client_eof = True
        if self._upstream is not None and self._upstream.can_write_eof():
            self._upstream.write_eof()
        return True  # keep the other direction open until the upstream closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._client = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._upstream is not None:
            self._upstream.close()

    def pause_writing(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def resume_writing(self) -> None:
        if self._upstream is not None and not self._upstream.is_closing():
            self._upstream.resume_reading()

    def freeze(self) -> None:
        """The route vanished: stop moving bytes in either direction."""
        if self._upstream is not None:
            self._upstream.abort()
            self._upstream = None

    # called by the upstream side
    def upstream_data(self, data: bytes) -> None:
        if self._client is not None:
            self._client.write(data)

    def upstream_closed(self) -> None:
        if self._client is not None and not self._client.is_closing():
            self._client.close()

    def upstream_paused(self, paused: bool) -> None:
        if self._client is not None and not self._client.is_closing():
            (self._client.pause_reading if paused else self._client.resume_reading)()


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, client: ForwardProtocol) -> None:
        self._client = client

    def data_received(self, data: bytes) -> None:
        self._client.upstream_data(data)

    def eof_received(self) -> bool:
        return False  # close; the client side follows in connection_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._client.upstream_closed()

    def pause_writing(self) -> None:
        self._client.upstream_paused(True)

    def resume_writing(self) -> None:
        self._client.upstream_paused(False)
