"""One TCP port on one loopback address that either serves or black-holes.

Black-holing without netfilter: a listening socket with `listen(0)` whose accept queue already holds
one connection of our own makes the kernel drop every further SYN, so clients hang in `connect()`
until their own timeout, exactly like an address nobody answers for (not refused). Raising the
backlog again and accepting (and closing) the dummy connection restores service; clients still
retrying their SYN then get through.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from enum import StrEnum

from localcloud.errors import LocalCloudError

log = logging.getLogger(__name__)

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
Watcher = Callable[["PortListener"], None]

_ACCEPTS_PER_WAKEUP = 64


class Mode(StrEnum):
    BLACKHOLE = "blackhole"
    SERVE = "serve"
    CLOSED = "closed"
    RELEASED = "released"  # not bound by localcloud: left to a process of the host's own (a user data server)


class PortListener:
    """Lives on the data-plane loop: every method must be called from the loop thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, address: str, port: int, *, backlog: int = 128) -> None:
        self.address = address
        self.port = port
        self._loop = loop
        self._backlog = backlog
        self._sock: socket.socket | None = None
        self._mode = Mode.CLOSED
        self._factory: ProtocolFactory | None = None
        self._dummy: socket.socket | None = None
        self._dummy_addr: tuple[str, int] | None = None
        self._conns: set[asyncio.BaseTransport] = set()
        self._prune_at = 128
        self._frozen: list[asyncio.BaseTransport] = []
        self._unaccepted: list[socket.socket] = []
        self._watchers: list[Watcher] = []

    def __repr__(self) -> str:
        return f"PortListener({self.address}:{self.port}, {self._mode})"

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def factory(self) -> ProtocolFactory | None:
        return self._factory if self._mode is Mode.SERVE else None

    @property
    def connections(self) -> int:
        return sum(1 for t in self._conns if not t.is_closing())

    def open(self) -> None:
        """Bind and start black-holed (also after `release()`: the port is localcloud's again, and watchers
        hear of it). Raises OSError (PermissionError for a privileged port, EADDRINUSE while another
        process holds it)."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.address, self.port))
            sock.setblocking(False)
            self.port = sock.getsockname()[1]  # port 0 asks for a free one
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._blackhole_now()
        self._notify()

    def watch(self, watcher: Watcher) -> None:
        self._watchers.append(watcher)

    def unwatch(self, watcher: Watcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def serve(self, factory: ProtocolFactory) -> None:
        """New connections get `factory()`. Connections already open keep the protocol they have."""
        sock = self._require_open()
        if self._mode is Mode.SERVE:
            if self._factory is not factory:
                self._factory = factory
                self._notify()
            return
        self._factory = factory
        sock.listen(self._backlog)
        self._mode = Mode.SERVE
        self._loop.add_reader(sock.fileno(), self._on_readable)
        self._notify()

    def blackhole(self) -> None:
        """Drop new SYNs; open connections freeze (no more reads, no answer), as if the host vanished."""
        sock = self._require_open()
        if self._mode is Mode.BLACKHOLE:
            self._freeze_all()  # after drop_new() the established connections were still alive
            return
        self._loop.remove_reader(sock.fileno())
        self._freeze_all()
        self._blackhole_now()
        self._notify()

    def drop_new(self) -> None:
        """Drop new SYNs but keep open connections going (a stateful firewall's connection tracking)."""
        sock = self._require_open()
        if self._mode is Mode.BLACKHOLE:
            return
        self._loop.remove_reader(sock.fileno())
        self._blackhole_now()
        self._notify()

    def release(self) -> None:
        """Unbind, so that another process can bind the port; watchers stay and hear of it (a Mirror then
        forwards to whatever binds it). `open()` takes the port back. Idempotent."""
        if self._mode is Mode.RELEASED:
            return
        self._unbind()
        self._mode = Mode.RELEASED
        self._notify()

    def close(self) -> None:
        """Close the port and every connection on it. Idempotent."""
        self._unbind()
        was_open = self._mode is not Mode.CLOSED
        self._mode = Mode.CLOSED
        if was_open:
            self._notify()
        self._watchers.clear()

    def _unbind(self) -> None:
        if self._sock is not None:
            if self._mode is Mode.SERVE:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        self._close_dummy()
        for transport in [*self._conns, *self._frozen]:
            transport.abort()  # type: ignore[attr-defined]
        for conn in self._unaccepted:
            conn.close()
        self._conns.clear()
        self._frozen.clear()
        self._unaccepted.clear()
        self._factory = None

    # --- internals ---

    def _require_open(self) -> socket.socket:
        if self._sock is None:
            raise LocalCloudError(f"{self.address}:{self.port} is not open")
        return self._sock

    def _blackhole_now(self) -> None:
        sock = self._require_open()
        sock.listen(0)
        self._drain_into_frozen()
        self._close_dummy()
        dummy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        dummy.setblocking(False)
        try:
            dummy.connect((self.address, self.port))
        except BlockingIOError:
            pass  # on loopback the handshake completes inside the kernel right away
        except OSError:
            dummy.close()
            raise
        self._dummy, self._dummy_addr = dummy, dummy.getsockname()
        self._mode = Mode.BLACKHOLE

    def _close_dummy(self) -> None:
        if self._dummy is not None:
            self._dummy.close()
        self._dummy, self._dummy_addr = None, None

    def _drain_into_frozen(self) -> None:
        """Connections that completed the handshake but were not accepted yet hang like the rest."""
        assert self._sock is not None
        for _ in range(self._backlog + 2):
            try:
                conn, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            if self._dummy_addr is not None and addr == self._dummy_addr:
                conn.close()
                continue
            self._unaccepted.append(conn)  # nobody reads it: the client hangs until close()

    def _freeze_all(self) -> None:
        for transport in self._conns:
            if transport.is_closing():
                continue
            try:
                transport.pause_reading()  # type: ignore[attr-defined]
            except RuntimeError:
                continue
            freeze = getattr(transport.get_protocol(), "freeze", None)
            if callable(freeze):
                freeze()
            self._frozen.append(transport)
        self._conns.clear()

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None or self._mode is not Mode.SERVE:
            return
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept on %s:%s failed: %s", self.address, self.port, exc)
                return
            if self._dummy_addr is not None and addr == self._dummy_addr:
                conn.close()
                self._close_dummy()
                continue
            self._start(conn)

    def _start(self, conn: socket.socket) -> None:
        factory = self._factory
        assert factory is not None
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._loop.create_task(self._connect(conn, factory))

    async def _connect(self, conn: socket.socket, factory: ProtocolFactory) -> None:
        try:
            transport, _ = await self._loop.connect_accepted_socket(factory, conn)
        except Exception as exc:
            log.debug("connection on %s:%s failed to start: %s", self.address, self.port, exc)
            conn.close()
            return
        if self._mode is Mode.SERVE:
            self._conns.add(transport)
            if len(self._conns) > self._prune_at:
                self._conns = {t for t in self._conns if not t.is_closing()}
                self._prune_at = max(128, 2 * len(self._conns))
        elif self._mode is Mode.BLACKHOLE:
            transport.pause_reading()
            self._frozen.append(transport)
        else:
            transport.abort()

    def _notify(self) -> None:
        for watcher in list(self._watchers):
            try:
                watcher(self)
            except Exception:
                log.exception("listener watcher failed for %s:%s", self.address, self.port)
