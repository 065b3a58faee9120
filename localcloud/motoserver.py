"""moto's HTTP server on a free 127.0.0.1 port, in this process, stoppable without leaving threads behind.

Built from the same parts as moto's ThreadedMotoServer, plus what it lacks: the listening socket is
closed on stop, and keep-alive connections (boto3 pools them) are shut down so their handler
threads end instead of waiting for the client. `wrap` puts WSGI middleware in front of moto's app
(localcloud's IAM enforcement for role sessions).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from localcloud.errors import LocalCloudError

log = logging.getLogger(__name__)


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, wrap: Callable[[Any], Any] | None = None) -> None:
        self._host = host
        self._port = port
        self._wrap = wrap
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._werkzeug_level: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise LocalCloudError("moto server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        if self._server is not None:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        werkzeug_log = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug_log.level
        werkzeug_log.setLevel(logging.ERROR)  # one log line per API call otherwise
        app = DomainDispatcherApplication(create_backend_app)
        if self._wrap is not None:
            app = self._wrap(app)
        self._server = _server_class()(self._host, self._port, app, handler=_handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="localcloud-moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.shutdown()  # serve_forever returns
            server.close_connections()
            server.server_close()  # joins the handler threads (daemon_threads is off)
        if thread is not None:
            thread.join(10.0)
        self._server = self._thread = None
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None


def _handler_class() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("moto: " + format, *args)

    return Handler


def _server_class() -> type:
    from werkzeug.serving import ThreadedWSGIServer

    class Server(ThreadedWSGIServer):
        daemon_threads = False
        block_on_close = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._open: set[socket.socket] = set()
            self._open_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        def get_request(self) -> tuple[socket.socket, Any]:
            conn, addr = super().get_request()
            with self._open_lock:
                self._open.add(conn)
            return conn, addr

        def shutdown_request(self, request: Any) -> None:
            with self._open_lock:
                self._open.discard(request)
            super().shutdown_request(request)

        def close_connections(self) -> None:
            with self._open_lock:
                conns = list(self._open)
            for conn in conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    return Server
