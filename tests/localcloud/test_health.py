"""Route 53 health checkers: per-checker thresholds, the 18 % rule, and real probes against loopback."""

from __future__ import annotations

import http.server
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.events import EventLog
from localcloud.profiles import Delay
from localcloud.route53.health import (
    HEALTH_EVENT,
    CheckConfig,
    CheckerState,
    HealthCheckers,
    aggregate_healthy,
)
from localcloud.route53.health_probe import Observation, ProbeLimits


def _obs(ok: bool) -> Observation:
    return Observation(ok, "Success" if ok else "Failure", "127.0.0.1", 0.0, 0.0)


def test_a_checker_flips_only_after_threshold_consecutive_failures() -> None:
    checker = CheckerState(threshold=3)

    flips = [checker.observe(_obs(ok)) for ok in (False, False, True, False, False, False)]

    assert flips == [False, False, False, False, False, True]
    assert checker.healthy is False


def test_a_checker_needs_threshold_successes_to_come_back() -> None:
    checker = CheckerState(threshold=2, healthy=False)

    assert checker.observe(_obs(True)) is False
    assert checker.observe(_obs(True)) is True
    assert checker.healthy is True


@pytest.mark.parametrize(("healthy", "total", "expected"), [
    (15, 15, True), (3, 15, True), (2, 15, False), (0, 15, False), (1, 5, True), (0, 1, False)])
def test_aggregate_is_healthy_iff_more_than_18_percent_say_so(healthy: int, total: int, expected: bool) -> None:
    assert aggregate_healthy([True] * healthy + [False] * (total - healthy)) is expected


class _Source:
    def __init__(self) -> None:
        self.configs: dict[str, CheckConfig] = {}

    def checks(self) -> dict[str, CheckConfig]:
        return dict(self.configs)


class _Endpoint:
    """An HTTP server on loopback whose status code the test sets."""

    def __init__(self) -> None:
        endpoint = self
        self.status = 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[_Endpoint]:
    with _Endpoint() as server:
        yield server


def _checkers(source: _Source, events: EventLog, **kwargs: Any) -> HealthCheckers:
    kwargs.setdefault("limits", ProbeLimits(0.5, 0.5, 0.5))
    return HealthCheckers(rng=random.Random(1), on_event=events.record, source=source, interval_scale=0.005,
                          checkers=15, status_to_dns=Delay(0.05, 0.05), poll_interval=0.02, **kwargs)


def _flip(events: EventLog, hc_id: str, healthy: bool, since: int = 0) -> Any:
    return events.wait_for(HEALTH_EVENT, hc_id, since=since, timeout=20,
                           where=lambda e: e.detail["healthy"] is healthy and e.detail["published"])


def test_a_failing_endpoint_goes_unhealthy_then_healthy_again(endpoint: _Endpoint) -> None:
    source, events = _Source(), EventLog()
    source.configs["hc-1"] = CheckConfig("hc-1", "HTTP", "127.0.0.1", endpoint.port, "/health",
                                         request_interval=10, failure_threshold=2)
    # Limits a busy machine does not reach: the checks fail on the 503, not on a timeout.
    with _checkers(source, events, limits=ProbeLimits(2.0, 2.0, 2.0)) as checkers:
        assert checkers.is_healthy("hc-1")  # new: healthy until enough data
        endpoint.status = 503
        down = _flip(events, "hc-1", False)
        assert not checkers.is_healthy("hc-1")
        assert "503" in down.detail.get("reason", "") or any(
            "503" in e.detail.get("reason", "") for e in events.find(HEALTH_EVENT, "hc-1"))
        endpoint.status = 200
        _flip(events, "hc-1", True, since=down.seq)
        assert checkers.is_healthy("hc-1")
        # Healthy once more than 18 % of the checkers say so: the others' next probe (one interval, 50 ms
        # here; bounded) brings their last observation up to date.
        deadline = time.monotonic() + 5.0
        while not _all_ok(observations := checkers.observations("hc-1")) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(observations) == 15
    assert _all_ok(observations)


def _all_ok(observations: list[tuple[str, Observation | None]]) -> bool:
    return all(obs is not None and obs.ok for _, obs in observations)


def test_a_black_holed_endpoint_fails_on_the_connect_limit() -> None:
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        filler = socket.create_connection(hole.getsockname())  # fills the accept queue: SYNs are dropped
        source, events = _Source(), EventLog()
        source.configs["hc-bh"] = CheckConfig("hc-bh", "HTTP", "127.0.0.1", hole.getsockname()[1],
                                              request_interval=10, failure_threshold=1)
        try:
            with _checkers(source, events, limits=ProbeLimits(0.2, 0.2, 0.2)) as checkers:
                down = _flip(events, "hc-bh", False)
                assert not checkers.is_healthy("hc-bh")
        finally:
            filler.close()
    reasons = [e.detail.get("reason") for e in events.find(HEALTH_EVENT, "hc-bh") if not e.detail["published"]]
    assert any("timed out" in (r or "") for r in reasons)
    assert down.detail["healthy"] is False


def test_an_endpoint_outside_loopback_is_never_contacted() -> None:
    source, events = _Source(), EventLog()
    source.configs["hc-out"] = CheckConfig("hc-out", "TCP", "192.0.2.10", 443, failure_threshold=1)
    with _checkers(source, events) as checkers:
        _flip(events, "hc-out", False)
        reasons = {obs.reason for _, obs in checkers.observations("hc-out") if obs}
    assert any("outside localcloud" in r for r in reasons)


def test_a_deleted_check_is_forgotten_and_inverted_checks_invert(endpoint: _Endpoint) -> None:
    source, events = _Source(), EventLog()
    source.configs["hc-inv"] = CheckConfig("hc-inv", "HTTP", "127.0.0.1", endpoint.port, inverted=True,
                                           request_interval=10, failure_threshold=1)
    with _checkers(source, events) as checkers:
        _flip(events, "hc-inv", False)
        del source.configs["hc-inv"]
        for _ in range(200):
            if "hc-inv" not in checkers.describe()["checks"]:
                break
            threading.Event().wait(0.02)
        assert "hc-inv" not in checkers.describe()["checks"]
        assert checkers.is_healthy("hc-inv")  # unknown ids count as healthy


def test_domain_name_checks_resolve_outside_names_through_the_alias_table() -> None:
    import asyncio

    from localcloud.route53.health_moto import resolver_for
    from localcloud.route53.seams import AliasTable

    aliases = AliasTable()
    aliases.set("my-alb-1.us-east-1.elb.amazonaws.com", "A", ["127.0.0.9"])
    resolve = resolver_for(lambda: None, aliases)
    assert asyncio.run(resolve("dualstack.my-alb-1.us-east-1.elb.amazonaws.com")) == ["127.0.0.9"]
    assert asyncio.run(resolve("unknown.example.test")) == []


def test_a_timeout_noticed_late_is_our_starvation_and_is_tried_again() -> None:
    """A checker whose own loop was blocked must not call a live endpoint dead: a timeout that fires far
    past its due time is retried once (a black hole still fails, one attempt later)."""
    import asyncio
    import time

    from gameday.probes.scripted import BlackHole
    from localcloud.route53 import health_probe

    async def starved_connect(port: int) -> tuple[str, float]:
        async def block_the_loop() -> None:
            await asyncio.sleep(0.01)
            time.sleep(0.5)  # the host was busy: nothing on this loop runs for 0.5 s

        started = time.monotonic()
        blocker = asyncio.create_task(block_the_loop())
        try:
            await health_probe._connect("127.0.0.1", port, 0.2, None)
            outcome = "connected"
        except health_probe._Failure as failure:
            outcome = str(failure)
        await blocker
        return outcome, time.monotonic() - started

    with BlackHole() as hole:
        outcome, elapsed = asyncio.run(starved_connect(hole.port))
    assert outcome.startswith("Connection timed out")
    assert elapsed >= 0.5 + 0.2  # the late first attempt, then a second full one


def test_a_connection_reset_mid_answer_is_a_failed_probe_and_the_checkers_go_on() -> None:
    """An endpoint that accepts and then resets (RST) while the checker reads: a failure each time, never a
    checker that dies and holds its last verdict."""
    stop = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.2)

        def reset_everyone() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                conn.recv(1024)  # the request is sent, then the answer is torn off
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()

        thread = threading.Thread(target=reset_everyone, daemon=True)
        thread.start()
        source, events = _Source(), EventLog()
        source.configs["hc-rst"] = CheckConfig("hc-rst", "HTTP", "127.0.0.1", server.getsockname()[1],
                                               request_interval=10, failure_threshold=2)
        try:
            with _checkers(source, events) as checkers:
                _flip(events, "hc-rst", False)
                first = len([o for _, o in checkers.observations("hc-rst") if o])
                time.sleep(0.5)
                seen = [o for _, o in checkers.observations("hc-rst") if o]
        finally:
            stop.set()
            thread.join(timeout=5)
    assert not any(o.ok for o in seen)
    assert all(o.reason.startswith("Failure") for o in seen)
    assert first and all(o.at > 0 for o in seen)  # every checker keeps observing
