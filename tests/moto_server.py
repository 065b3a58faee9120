"""An in-process moto server for tests that need plain moto (not localcloud): one definition for all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def moto_server() -> Iterator[str]:
    """An in-process moto server on 127.0.0.1 (a free port); stopped on every path."""
    from moto.server import ThreadedMotoServer  # imported here: the runner children need none of moto

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        server._server.server_close()  # stop() leaves the listening socket open
        werkzeug.setLevel(level)
