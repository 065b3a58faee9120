"""Route 53 health checkers keep their schedule when the process they run in is busy: a checker woken late
catches up at its next request (Route 53's own checkers are never starved), and the lateness is measured."""

from __future__ import annotations

import http.server
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.route53.health import CheckConfig, HealthCheckers

pytestmark = pytest.mark.timing  # lateness in milliseconds: run on cores no other test loads (see the Makefile)

INTERVAL_S = 0.2  # RequestInterval 10 x 0.02


class _Source:
    def __init__(self, config: CheckConfig) -> None:
        self.config = config

    def checks(self) -> dict[str, CheckConfig]:
        return {self.config.id: self.config}


@pytest.fixture
def endpoint() -> Iterator[tuple[int, list[float]]]:
    """An HTTP server on loopback that notes when each request came."""
    seen: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def one_checker(port: int) -> HealthCheckers:
    """One checker of one HTTP check on `port`, every INTERVAL_S, its phase seeded."""
    config = CheckConfig("hc-1", "HTTP", ip_address="127.0.0.1", port=port, request_interval=10)
    return HealthCheckers(source=_Source(config), interval_scale=INTERVAL_S / 10, checkers=1,
                          rng=random.Random(7), poll_interval=0.05)


def test_a_checker_woken_late_catches_up_at_its_next_request(endpoint: tuple[int, list[float]]) -> None:
    port, seen = endpoint
    with one_checker(port) as checkers:
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        stalled_at = time.monotonic()
        assert checkers._loop is not None  # the checkers' own loop, blocked as a busy process would block it
        checkers._loop.call_soon_threadsafe(time.sleep, 1.5 * INTERVAL_S)
        while (len([t for t in seen if t > stalled_at]) < 4) and time.monotonic() < deadline:
            time.sleep(0.02)
        timing = checkers.describe()["timing"]

    after = [t for t in seen if t > stalled_at]
    assert len(after) >= 4, f"only {len(after)} requests after the stall"
    gaps = [b - a for a, b in zip(after, after[1:], strict=False)]
    # The request the stall delayed is followed sooner than one interval: the schedule is kept, not shifted.
    assert min(gaps[:2]) < 0.6 * INTERVAL_S, gaps
    assert timing["late"] >= 1 and timing["max_late_s"] >= 0.25 * INTERVAL_S, timing
    assert timing["probes"] >= len(seen)


def test_an_unstarved_checker_keeps_its_interval_and_is_never_late(endpoint: tuple[int, list[float]]) -> None:
    port, seen = endpoint
    with one_checker(port):
        deadline = time.monotonic() + 5
        while len(seen) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)

    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert len(gaps) >= 4
    assert all(g >= 0.9 * INTERVAL_S for g in gaps), gaps  # from response to next request: never sooner
