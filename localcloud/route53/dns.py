"""The authoritative DNS server for every hosted zone moto holds: UDP and TCP on loopback, asyncio.

Listeners: one public listener (the "internet" view: public zones only) and, per VPC, an optional extra
listener whose clients count as inside that VPC (public zones plus the private zones associated with it,
a private zone shadowing a public one of the same name). One listener per VPC, rather than a table of
client addresses, because a client then needs nothing but the address it is told to use, as an instance
uses its VPC resolver; a query for a name outside every zone the listener sees is REFUSED.

Runs on its own thread and loop (`start()`), or on a loop someone else runs (`start(loop)` from another
thread, `await start_async()` from inside it). Answers come from the propagated (published) zones, see
propagation.py; routing rules are in routing.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import random
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from localcloud.errors import LocalCloudError
from localcloud.net.async_http import close_server
from localcloud.profiles import Delay, Profile
from localcloud.route53 import wire
from localcloud.route53.moto_bridge import ChangeHook, MotoZones
from localcloud.route53.propagation import Clock, EventSink, Propagation, SystemClock, ZoneSource
from localcloud.route53.routing import Router
from localcloud.route53.seams import AliasResolver, AllHealthy, HealthView, NoOutsideAliases

log = logging.getLogger(__name__)
T = TypeVar("T")

TCP_MAX_QUERIES = 10_000  # per connection, so no client can hold a handler forever
_BIND_ATTEMPTS = 20


@dataclass
class _Listener:
    host: str
    requested_port: int  # 0: any free port (UDP and TCP get the same one)
    vpc_id: str | None
    port: int = 0  # the bound port while open (kept after stop, for describe())
    udp: asyncio.DatagramTransport | None = None
    tcp: asyncio.Server | None = None
    clients: set[asyncio.StreamWriter] = field(default_factory=set)


def require_loopback(host: str) -> str:
    """`host` if it is loopback; an IPv4-mapped one (`::ffff:127.x.y.z`) as plain IPv4, where a
    dual-stack client that connects to the mapped form actually arrives."""
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if not address.is_loopback:
        raise ValueError(f"localcloud listens on loopback only, not {host}")
    return str(address)


class AuthoritativeDNS:
    """Route 53's name servers for moto's zones. `start()`/`stop()` are idempotent."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, propagation_delay: Delay | None = None,
                 health: HealthView | None = None, aliases: AliasResolver | None = None,
                 on_event: EventSink | None = None, negative_ttl_cap: int | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None,
                 source: ZoneSource | None = None, hook_moto: bool = True, poll_interval: float = 0.1,
                 tcp_idle_timeout: float = 10.0, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._public = _Listener(require_loopback(host), port, None)
        self._vpc_listeners: dict[str, _Listener] = {}
        self._health: HealthView = health or AllHealthy()
        self._aliases: AliasResolver = aliases or NoOutsideAliases()
        self._rng = rng or random.Random()
        self._clock = clock or SystemClock()
        self._negative_ttl_cap = negative_ttl_cap
        self._delay = propagation_delay or Delay(0.0, 0.0)
        moto_source = source is None
        self._source = source or MotoZones()
        self.propagation = Propagation(self._source, self._delay, clock=self._clock,
                                       rng=random.Random(self._rng.random()), on_event=on_event)
        self._hook = ChangeHook(self.propagation) if hook_moto and moto_source else None
        self._poll_interval = poll_interval
        self._tcp_idle_timeout = tcp_idle_timeout
        self._given_loop = loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_thread: threading.Thread | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._running = False
        self._state = threading.Lock()

    @classmethod
    def for_profile(cls, profile: Profile, **kwargs: Any) -> AuthoritativeDNS:
        """Propagation delay and negative-caching cap from a time profile."""
        kwargs.setdefault("propagation_delay", profile.delay("route53.change_insync"))
        kwargs.setdefault("negative_ttl_cap", round(profile.delay("route53.negative_cache").mean))
        return cls(**kwargs)

    # --- addresses ---

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the public listener; the port is real once started."""
        return self._public.host, self._public.port or self._public.requested_port

    def vpc_address(self, vpc_id: str) -> tuple[str, int]:
        listener = self._vpc_listeners[vpc_id]
        return listener.host, listener.port or listener.requested_port

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def describe(self) -> dict[str, Any]:
        """JSON-able facts (LocalCloud's /info)."""
        host, port = self.address
        return {"host": host, "port": port, "running": self._running,
                "vpc_listeners": {vpc: {"host": lsn.host, "port": lsn.port}
                                  for vpc, lsn in self._vpc_listeners.items()},
                "propagation_delay": {"low": self._delay.low, "high": self._delay.high},
                "negative_ttl_cap": self._negative_ttl_cap, "pending_versions": self.propagation.pending()}

    # --- lifecycle ---

    def start(self, loop: asyncio.AbstractEventLoop | None = None, timeout: float = 10.0) -> None:
        """Serve on `loop` (or the constructor's; running on another thread), else on an own thread and loop."""
        with self._state:
            if self._running:
                return
            loop = loop or self._given_loop
            if loop is None:
                loop = asyncio.new_event_loop()
                self._own_thread = threading.Thread(target=_run_forever, args=(loop,),
                                                    name="localcloud-dns", daemon=True)
                self._own_thread.start()
            self._loop = loop
            try:
                self._call(self.start_async(), timeout)
            except BaseException:
                self._close_own_loop(timeout)
                raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; with a loop someone else runs, call this before that loop stops."""
        with self._state:
            try:
                if self._running and self._loop is not None and self._loop.is_running():
                    self._call(self.stop_async(), timeout)
                elif self._running:
                    log.warning("the DNS server's loop stopped before the server: its sockets stay open")
                    self._running = False
            finally:
                self._close_own_loop(timeout)

    async def start_async(self) -> None:
        """Start on the running loop (use this from inside the loop's thread)."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self.propagation.sync()
        try:
            if self._hook is not None:
                self._hook.install()
            for listener in [self._public, *self._vpc_listeners.values()]:
                await self._open(listener)
        except BaseException:
            await self._close_all()
            raise
        self._ticker = asyncio.create_task(self._tick(), name="localcloud-dns-propagation")
        self._running = True
        log.info("authoritative DNS on %s:%s (%d VPC listeners)", *self.address, len(self._vpc_listeners))

    async def stop_async(self) -> None:
        self._running = False
        await self._close_all()

    def add_vpc_listener(self, vpc_id: str, host: str = "127.0.0.1", port: int = 0,
                         timeout: float = 10.0) -> tuple[str, int]:
        """A listener whose clients are inside `vpc_id`. Before start: opened by start()."""
        listener = _Listener(require_loopback(host), port, vpc_id)
        with self._state:
            if vpc_id in self._vpc_listeners:
                return self.vpc_address(vpc_id)
            if self._running:
                self._call(self._open(listener), timeout)
            self._vpc_listeners[vpc_id] = listener
        return self.vpc_address(vpc_id)

    def __enter__(self) -> AuthoritativeDNS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        assert self._loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            coro.close()
            raise LocalCloudError("called from the DNS loop's own thread: use the *_async method")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _close_own_loop(self, timeout: float) -> None:
        thread, loop = self._own_thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if thread.is_alive():
            raise LocalCloudError("the DNS loop thread did not stop")
        loop.close()
        self._own_thread = None
        self._loop = None

    async def _close_all(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for listener in [self._public, *self._vpc_listeners.values()]:
            await _close(listener)
        if self._hook is not None:
            self._hook.uninstall()

    async def _open(self, listener: _Listener) -> None:
        """Bind TCP and UDP to one port. With port 0 the kernel picks a TCP port first: its choice
        avoids ports held by other connections (TIME-WAIT included), which a UDP-first pick does not."""
        loop = asyncio.get_running_loop()
        for attempt in range(_BIND_ATTEMPTS):
            tcp = await asyncio.start_server(lambda r, w: self._serve_tcp(listener, r, w),
                                             listener.host, listener.requested_port)
            port = int(tcp.sockets[0].getsockname()[1])
            try:
                udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self, listener),
                                                              local_addr=(listener.host, port))
            except OSError as exc:
                tcp.close()
                await tcp.wait_closed()
                if listener.requested_port or exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            listener.tcp, listener.udp, listener.port = tcp, udp, port
            return

    async def _tick(self) -> None:
        while True:
            wait = self._poll_interval
            try:
                self.propagation.poll()
                upcoming = self.propagation.publish_due()
                if upcoming is not None:
                    wait = min(wait, max(0.0, upcoming - self._clock.monotonic()))
            except Exception:
                log.exception("route53 propagation tick failed")
            await asyncio.sleep(wait)

    # --- serving ---

    async def _serve_tcp(self, listener: _Listener, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        listener.clients.add(writer)
        try:
            for _ in range(TCP_MAX_QUERIES):
                size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), self._tcp_idle_timeout))
                data = await asyncio.wait_for(reader.readexactly(size), self._tcp_idle_timeout)
                reply = self.answer(data, listener.vpc_id, max_size=65535)
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            listener.clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def answer(self, data: bytes, vpc_id: str | None, max_size: int | None = None) -> bytes | None:
        """One query in wire format -> the reply (None: not even worth a FORMERR). `max_size` None:
        UDP rules (512, or the client's EDNS payload); TC set when the answer does not fit."""
        return wire.reply(data, lambda qname, qtype: self._router(vpc_id).resolve(qname, qtype), max_size)

    def _router(self, vpc_id: str | None) -> Router:
        return Router(self.propagation.view(), vpc_id=vpc_id, health=self._health, aliases=self._aliases,
                      rng=self._rng, negative_ttl_cap=self._negative_ttl_cap)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: AuthoritativeDNS, listener: _Listener) -> None:
        self._server = server
        self._listener = listener
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._server.answer(data, self._listener.vpc_id)
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)


async def _close(listener: _Listener) -> None:
    if listener.udp is not None:
        listener.udp.close()
        listener.udp = None
    if listener.tcp is not None:
        close_server(listener.tcp)
        await asyncio.sleep(0)
        for writer in list(listener.clients):
            writer.close()
        await listener.tcp.wait_closed()
        listener.tcp = None


def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        # Whatever is still pending (a handler mid-close) gets one chance to finish cleanly.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
