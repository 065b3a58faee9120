"""A tiny loopback HTTP/1.1 server that answers `GET` with `X-Served-By`, and can be told to fail.

The stand-in for an instance when there is no localcloud: the load tests and the benchmark's `--url`
fallback use it. Modes: `ok` (200), `http_503`, `refuse` (listener closed, open connections reset, as
when an instance dies), `hang` (accepts, never answers) and `blackhole` (open connections hang and new
ones never complete their handshake, as behind a security group that drops packets). Runs its own event
loop in a thread, or as `python -m gameday.load.target` in a process of its own (so it does not share the
caller's GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import struct
import sys
import threading
from typing import Literal

from gameday.errors import ConfigError
from localcloud.net.async_http import close_server

Mode = Literal["ok", "http_503", "refuse", "hang", "blackhole"]
MODES: tuple[Mode, ...] = ("ok", "http_503", "refuse", "hang", "blackhole")
_SILENT: tuple[Mode, ...] = ("hang", "blackhole")
_REASONS = {200: b"OK", 503: b"Service Unavailable"}


class _Connection(asyncio.Protocol):
    def __init__(self, target: LoopbackTarget) -> None:
        self._target = target
        self._buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._target.connections.add(self)
        self._target.accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._target.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self.transport is not None and b"\r\n\r\n" in self._buffer:
            head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
            if self._target.mode in _SILENT:
                return
            self._answer(close=b"\r\nconnection: close" in head.lower())

    def _answer(self, *, close: bool) -> None:
        assert self.transport is not None
        status = 200 if self._target.mode == "ok" else 503
        body = b"ok\n" if status == 200 else b"unavailable\n"
        self._target.served += 1
        self.transport.write(b"HTTP/1.1 %d %s\r\nX-Served-By: %s\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n%s\r\n%s"
                             % (status, _REASONS[status], self._target.served_by.encode(), len(body),
                                b"Connection: close\r\n" if close else b"", body))
        if close:
            self.transport.close()

    def reset(self) -> None:
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close with RST, as a dead host's kernel would answer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class LoopbackTarget:
    """Serve on a loopback address from a background thread; `with LoopbackTarget() as t: t.url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, served_by: str = "i-loopback") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ConfigError(f"the test target only serves on loopback, not {host}")
        self.host, self.port, self.served_by = host, port, served_by
        self.mode: Mode = "ok"
        self.accepted = 0
        self.served = 0
        self.connections: set[_Connection] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._hole: list[socket.socket] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-target", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> LoopbackTarget:
        self._thread.start()
        self._call(self._listen())
        return self

    def set_mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown target mode {mode!r}; one of {', '.join(MODES)}")
        self._call(self._switch(mode))

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> LoopbackTarget:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await self._loop.create_server(lambda: _Connection(self), self.host, self.port,
                                                      reuse_address=True, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        self._close_hole()
        if self._server is not None:
            close_server(self._server)
            await asyncio.sleep(0)  # the listener is really closed from here on
            self._server = None
        for connection in list(self.connections):
            connection.reset()

    async def _switch(self, mode: Mode) -> None:
        previous, self.mode = self.mode, mode
        if previous == "blackhole":
            self._close_hole()
        elif previous != "refuse" and mode in ("refuse", "blackhole") and self._server is not None:
            if mode == "refuse":
                await self._close()
            else:  # open connections stay, and hang; close_server: a bare close leaks one accepted in this tick
                close_server(self._server)
                await asyncio.sleep(0)  # the listener is really closed before the hole binds its port
                self._server = None
        if mode == "blackhole":
            self._open_hole()
        elif self._server is None and mode != "refuse":
            await self._listen()

    def _open_hole(self) -> None:
        """A listener that never accepts, its one-slot queue filled: the kernel drops further SYNs."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(0)
        self._hole = [listener]
        for _ in range(2):
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((self.host, self.port))
            self._hole.append(filler)

    def _close_hole(self) -> None:
        for sock in self._hole:
            sock.close()
        self._hole = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback HTTP target; runs until stdin closes.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--served-by", default="i-loopback")
    args = parser.parse_args(argv)
    with LoopbackTarget(args.host, args.port, args.served_by) as target:
        print(target.url, flush=True)
        sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    return 0


if __name__ == "__main__":
    sys.exit(main())
