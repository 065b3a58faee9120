import asyncio
import socket

from localcloud.net.async_http import close_server
from localcloud.net.http import HttpServerProtocol, Request, Response


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def serve(*chunks: bytes) -> tuple[FakeTransport, list[Request]]:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, request.path.encode())

    protocol, transport = HttpServerProtocol(handler), FakeTransport()
    protocol.connection_made(transport)
    for chunk in chunks:
        protocol.data_received(chunk)
    return transport, seen


def test_pipelined_keepalive_requests_are_answered_in_order() -> None:
    transport, seen = serve(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HT", b"TP/1.1\r\nHost: x\r\n\r\n")

    assert [r.path for r in seen] == ["/a", "/b"] and seen[1].query == {"q": "1"}
    assert transport.written.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: keep-alive" in transport.written and not transport.closed


def test_connection_close_and_http10_close_after_the_answer() -> None:
    closing, _ = serve(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    http10, _ = serve(b"GET / HTTP/1.0\r\n\r\n")
    http10_keepalive, _ = serve(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")

    assert closing.closed and b"Connection: close" in closing.written
    assert http10.closed
    assert not http10_keepalive.closed


def test_a_body_is_read_by_content_length_even_when_split() -> None:
    transport, seen = serve(b"PUT /t HTTP/1.1\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhe", b"lloGET /n HTTP/1.1\r\n\r\n")

    assert seen[0].body == b"hello" and seen[0].header("x-a") == "b"
    assert seen[1].path == "/n"


def test_garbage_gets_400_and_the_connection_closes() -> None:
    transport, seen = serve(b"NONSENSE\r\n\r\n")

    assert not seen and transport.written.startswith(b"HTTP/1.1 400 Bad Request") and transport.closed


def test_head_gets_headers_without_body() -> None:
    transport, _ = serve(b"HEAD /abc HTTP/1.1\r\n\r\n")

    assert b"Content-Length: 4" in transport.written and not transport.written.endswith(b"/abc")


def test_close_server_answers_a_connection_accepted_in_the_closing_tick() -> None:
    """The close lands between the accept and the transport (as when both fall in one loop tick):
    the accepted connection must still be served and ended, not left open unanswered."""
    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        made = asyncio.Event()
        holder: list[asyncio.Server] = []

        class EndAtOnce(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                made.set()
                transport.close()

        def factory() -> asyncio.Protocol:
            close_server(holder[0])  # runs inside asyncio's accept, before the transport exists
            return EndAtOnce()

        server = await loop.create_server(factory, "127.0.0.1", 0)
        holder.append(server)
        client = socket.socket()
        client.setblocking(False)
        try:
            await loop.sock_connect(client, server.sockets[0].getsockname())
            await asyncio.wait_for(made.wait(), 2.0)
            return await asyncio.wait_for(loop.sock_recv(client, 16), 2.0)
        finally:
            client.close()
            await asyncio.sleep(0)
            assert not server.is_serving()

    assert asyncio.run(main()) == b""
