"""Loopback targets whose behaviour switches at scripted epoch times: the known ground truth for the
probe tests and the accuracy benchmark (like httpx's MockTransport, but over real sockets).

Everything here binds to 127.0.0.1 only, runs its own asyncio loop in a thread, and is a context
manager that stops every socket and task it opened.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from localcloud.net.async_http import close_server

LOOPBACK = "127.0.0.1"
HANG_S = 30.0  # how long a "hang" answer waits; stop() cuts it short
_IDLE_S = 30.0
_MAX_REQUESTS_PER_CONNECTION = 100_000

M = TypeVar("M")


class Script(Generic[M]):
    """A behaviour over time: `initial`, then each `(epoch, mode)` step from its time on."""

    def __init__(self, initial: M, steps: Sequence[tuple[float, M]] = ()) -> None:
        ordered = sorted(steps, key=lambda step: step[0])
        self._times = [at for at, _ in ordered]
        self._modes = [initial] + [mode for _, mode in ordered]
        self._lock = threading.Lock()

    def at(self, when: float) -> M:
        with self._lock:
            return self._modes[bisect.bisect_right(self._times, when)]

    def add(self, when: float, mode: M) -> None:
        with self._lock:
            index = bisect.bisect_right(self._times, when)
            self._times.insert(index, when)
            self._modes.insert(index + 1, mode)

    def steps(self) -> list[tuple[float, M]]:
        with self._lock:
            return list(zip(self._times, self._modes[1:], strict=True))


class _LoopThread:
    """An event loop in a daemon thread, driven from the caller's thread with bounded waits."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, M], timeout_s: float = 5.0) -> M:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


class _Server:
    """Common lifecycle: start in a loop thread, track connections, stop everything."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._runner: _LoopThread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: asyncio.Event | None = None
        self.port = 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> Self:
        self._runner = _LoopThread(self._name)
        try:
            self._runner.run(self._start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception):
                runner.run(self._stop())
            runner.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self) -> None:
        raise NotImplementedError

    async def _hang(self) -> None:
        """Answer nothing for a while; ends early when the server stops."""
        if self._closing is None:
            self._closing = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), HANG_S)

    async def _close_listeners(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        if self._closing is None:
            self._closing = asyncio.Event()
        self._closing.set()
        await self._close_listeners()
        for _ in range(3):  # an accept already under way still makes a connection: let it, then end it
            await asyncio.sleep(0.01)
            for writer in list(self._writers):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            # Connection handlers belong to asyncio's server, which complains when they are cancelled:
            # with their transports aborted they end by themselves; cancel only stragglers.
            others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
            if not others:
                break
            _, late = await asyncio.wait(others, timeout=2.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)


class ScriptedHttpServer(_Server):
    """HTTP/1.1 on loopback. Modes: "ok" (200), a status code such as "503" or "301" (a 3xx carries
    `location` when one is given), "reset" (RST after the request), "close" (FIN, no answer), "hang"
    (never answers), "garbage" (not HTTP), "refuse" (nothing listening)."""

    def __init__(self, initial: str = "ok", steps: Sequence[tuple[float, str]] = (), *,
                 identity: str = "i-scripted", port: int = 0, location: str | None = None) -> None:
        super().__init__(f"scripted-http-{identity}")
        self.script: Script[str] = Script(initial, steps)
        self.identity = identity
        self.location = location
        self.port = port
        self.requests = 0
        self.connections = 0
        self.switches: list[tuple[float, str]] = []  # when the listener really closed / reopened
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def switch(self, mode: str, at: float | None = None) -> None:
        """Change behaviour at epoch `at` (default: now). Thread-safe."""
        when = time.time() if at is None else at
        self.script.add(when, mode)
        if self._runner is not None:
            self._runner.loop.call_soon_threadsafe(self._spawn, self._follow_listening([(when, mode)]))

    async def _start(self) -> None:
        if self.script.at(time.time()) != "refuse":
            await self._listen()
        elif not self.port:
            self.port = _free_port(socket.SOCK_STREAM)
        self._spawn(self._follow_listening(self.script.steps()))

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listeners(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            close_server(server)
            await asyncio.sleep(0)  # the listener is really closed from here on

    async def _follow_listening(self, steps: Sequence[tuple[float, str]]) -> None:
        """Open or close the listener at each step's time: "refuse" must be a real refusal."""
        for at, _ in steps:
            await asyncio.sleep(max(0.0, at - time.time()))
            refusing = self.script.at(time.time()) == "refuse"
            if refusing and self._server is not None:
                await self._close_listeners()
                self.switches.append((time.time(), "refuse"))
            elif not refusing and self._server is None:
                await self._listen()
                self.switches.append((time.time(), "listen"))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        try:
            for _ in range(_MAX_REQUESTS_PER_CONNECTION):
                async with asyncio.timeout(_IDLE_S):
                    head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                if not await self._answer(self.script.at(time.time()), head, writer):
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, mode: str, head: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False ends the connection."""
        if mode in ("reset", "refuse"):
            _reset(writer)
            return False
        if mode == "close":
            return False
        if mode == "hang":
            await self._hang()
            return False
        if mode == "garbage":
            writer.write(b"SSH-2.0-not-http\r\n\r\n")
            await writer.drain()
            return False
        status = 200 if mode == "ok" else int(mode)
        body = f"{self.identity} {status}\n".encode()
        close = b"connection: close" in head.lower()
        reason = "OK" if status < 300 else "Moved" if status < 400 else "Error"
        headers = [f"HTTP/1.1 {status} {reason}", f"X-Served-By: {self.identity}", "Content-Type: text/plain",
                   f"Content-Length: {len(body)}"] + (["Connection: close"] if close else [])
        if 300 <= status < 400 and self.location:
            headers.append(f"Location: {self.location}")
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return not close


@dataclass(frozen=True)
class DnsMode:
    """How the scripted DNS server answers every query, whatever the name."""

    answers: tuple[str, ...] = ()  # rdata text of the queried type; empty with NOERROR is NODATA
    rcode: str = "NOERROR"
    ttl: int = 30
    truncate: bool = False  # UDP replies carry TC and no answers; TCP answers in full
    drop: bool = False  # never reply
    garbage: bool = False  # reply with a few bytes that do not parse
    tcp: bool = True  # False: TCP connections are reset at once (a truncation then cannot be retried)


class ScriptedDnsServer(_Server):
    """A DNS server on one loopback port, UDP and TCP, answering from a `Script` of `DnsMode`s."""

    def __init__(self, initial: DnsMode, steps: Sequence[tuple[float, DnsMode]] = ()) -> None:
        super().__init__("scripted-dns")
        self.script: Script[DnsMode] = Script(initial, steps)
        self.queries = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    def switch(self, mode: DnsMode, at: float | None = None) -> None:
        self.script.add(time.time() if at is None else at, mode)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(10):  # UDP and TCP must share a port; another process may grab it between
            transport, _ = await loop.create_datagram_endpoint(lambda: _DnsUdp(self), (LOOPBACK, 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._handle_tcp, LOOPBACK, port)
            except OSError:
                transport.close()
                continue
            self._udp, self.port = transport, port
            return
        raise OSError("no loopback port free for both UDP and TCP")

    async def _close_listeners(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            close_server(self._tcp)
            await asyncio.sleep(0)

    def reply(self, wire: bytes, *, over_tcp: bool) -> bytes | None:
        self.queries += 1
        mode = self.script.at(time.time())
        if mode.drop:
            return None
        query = dns.message.from_wire(wire)
        if mode.garbage:
            return query.to_wire()[:7]
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.from_text(mode.rcode))
        question = query.question[0]
        if mode.truncate and not over_tcp:
            response.flags |= dns.flags.TC
        elif mode.answers:
            response.answer.append(dns.rrset.from_text_list(question.name, mode.ttl, "IN",
                                                            question.rdtype, list(mode.answers)))
        else:
            response.authority.append(dns.rrset.from_text(
                question.name, mode.ttl, "IN", "SOA", "ns.invalid. hostmaster.invalid. 1 60 60 60 5"))
        return response.to_wire()

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if not self.script.at(time.time()).tcp:
            self._writers.discard(writer)
            _reset(writer)
            return
        try:
            for _ in range(_MAX_REQUESTS_PER_CONNECTION):
                async with asyncio.timeout(_IDLE_S):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    wire = await reader.readexactly(length)
                answer = self.reply(wire, over_tcp=True)
                if answer is None:
                    await self._hang()
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, server: ScriptedDnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # 3.11's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self._server.reply(data, over_tcp=False)
        if answer is not None and self._transport is not None:
            self._transport.sendto(answer, addr)


class BlackHole:
    """A loopback port whose SYNs go unanswered, so a connect hangs: listen(0) with the accept queue
    filled by dummy connections (Linux then drops further SYNs), as a blocked security group does."""

    def __init__(self) -> None:
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return (LOOPBACK, self.port)

    def __enter__(self) -> BlackHole:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.bind((LOOPBACK, 0))
            self._listener.listen(0)
            self.port = self._listener.getsockname()[1]
            for _ in range(8):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.setblocking(False)
                self._fillers.append(filler)
                filler.connect_ex(self.address)
                _, writable, _ = select.select([], [filler], [], 0.1)
                if not writable:  # this SYN was dropped: the queue is full
                    return self
            raise OSError("could not fill the accept queue of the black hole")
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sock in self._fillers:
            sock.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def closed_port() -> int:
    """A loopback TCP port nobody listens on (connects are refused), barring a race with others."""
    return _free_port(socket.SOCK_STREAM)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
