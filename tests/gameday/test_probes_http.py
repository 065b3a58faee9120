"""HTTP, keep-alive and health probes against tiny loopback servers: every failure kept apart."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator, Sequence

import pytest

from gameday.probes import HealthProbe, HttpProbe, ProbeRunner
from gameday.probes.http import read_response
from gameday.probes.scripted import BlackHole, ScriptedHttpServer, closed_port
from gameday.probes.specs import AnyProbe
from gameday.timeline import Outcome, Sample, Timeline

RATE_HZ = 20.0
TIMEOUT_S = 0.3


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    gc.collect()  # unclosed sockets surface here as (error) warnings
    assert set(threading.enumerate()) <= before


def collect(probes: Sequence[AnyProbe], duration_s: float = 0.3,
            allowed: Sequence[str] | None = None) -> dict[str, list[Sample]]:
    timeline = Timeline.begin("test")
    with ProbeRunner(timeline, probes, allowed_networks=allowed, duration_s=duration_s) as runner:
        assert runner.wait_done(10.0)
    return {p.name: timeline.samples_of(p.name) for p in probes}


def only(samples: Sequence[Sample]) -> Sample:
    outcomes = {s.outcome for s in samples}
    assert len(outcomes) == 1, outcomes
    return samples[-1]


def test_ok_answer_records_status_identity_peer_and_latency() -> None:
    with ScriptedHttpServer("ok", identity="i-0abc") as server:
        samples = collect([HttpProbe("http", server.url, RATE_HZ, TIMEOUT_S)])["http"]
    sample = only(samples)
    assert (sample.outcome, sample.status, sample.served_by) == (Outcome.OK, 200, "i-0abc")
    assert sample.peer == f"127.0.0.1:{server.port}" and sample.reused is None
    assert sample.latency_s is not None and sample.connect_s is not None and sample.latency_s >= sample.connect_s
    assert [s.seq for s in samples] == list(range(6)) and server.connections == 6


def test_a_page_from_someone_else_is_a_fallback_not_good() -> None:
    """With `expect_identity`, a 2xx from a maintenance origin (another identity) is not the service."""
    with ScriptedHttpServer("ok", identity="maintenance-s3") as other, \
            ScriptedHttpServer("ok", identity="i-0abc") as service, ScriptedHttpServer("503") as failing:
        samples = collect([HttpProbe("other", other.url, RATE_HZ, TIMEOUT_S, expect_identity="i-"),
                           HttpProbe("service", service.url, RATE_HZ, TIMEOUT_S, expect_identity="i-"),
                           HttpProbe("failing", failing.url, RATE_HZ, TIMEOUT_S, expect_identity="i-")])
    fallback = only(samples["other"])
    assert (fallback.outcome, fallback.status, fallback.served_by, fallback.good) == (
        Outcome.FALLBACK, 200, "maintenance-s3", False)
    assert only(samples["service"]).outcome is Outcome.OK
    assert only(samples["failing"]).outcome is Outcome.HTTP_5XX  # errors stay errors


def test_several_expected_identities_each_serve_and_a_third_is_a_fallback() -> None:
    """An origin group's primary and replica are both the service; anything else is not."""
    primary, replica = ("primary/bucket-a",), ("replica/bucket-b",)
    with ScriptedHttpServer("ok", identity=primary[0]) as one, ScriptedHttpServer("ok", identity=replica[0]) as two, \
            ScriptedHttpServer("ok", identity="maintenance") as three:
        expected = ("primary/", "replica/")
        samples = collect([HttpProbe(name, server.url, RATE_HZ, TIMEOUT_S, expect_identity=expected)
                           for name, server in (("one", one), ("two", two), ("three", three))])
    assert only(samples["one"]).outcome is Outcome.OK and only(samples["two"]).outcome is Outcome.OK
    third = only(samples["three"])
    assert third.outcome is Outcome.FALLBACK and third.detail == "served by maintenance, not primary/ or replica/"


@pytest.mark.parametrize(("mode", "outcome", "status"), [
    ("503", Outcome.HTTP_5XX, 503), ("404", Outcome.HTTP_4XX, 404), ("302", Outcome.HTTP_3XX, 302),
    ("304", Outcome.HTTP_3XX, 304)])
def test_status_classes(mode: str, outcome: Outcome, status: int) -> None:
    with ScriptedHttpServer(mode) as server:
        sample = only(collect([HttpProbe("http", server.url, RATE_HZ, TIMEOUT_S)])["http"])
    assert (sample.outcome, sample.status, sample.good) == (outcome, status, False)


def test_an_unexpected_redirect_is_an_error_naming_status_and_location() -> None:
    """S3's PermanentRedirect for a bucket asked in the wrong region is not the page: never OK."""
    there = "http://bucket.s3.eu-west-1.amazonaws.com/index.html"
    with ScriptedHttpServer("301", location=there) as moved, ScriptedHttpServer("301") as bare:
        samples = collect([HttpProbe("moved", moved.url, RATE_HZ, TIMEOUT_S),
                           HealthProbe("health", moved.url, RATE_HZ, TIMEOUT_S),
                           HttpProbe("bare", bare.url, RATE_HZ, TIMEOUT_S, expect_identity="i-")])
    sample = only(samples["moved"])
    assert (sample.outcome, sample.status, sample.detail) == (Outcome.HTTP_3XX, 301, f"301 redirect to {there}")
    assert only(samples["health"]).outcome is Outcome.HTTP_3XX
    assert only(samples["bare"]).detail == "301 redirect without a Location"


def test_an_expected_location_is_good_and_any_other_is_not() -> None:
    with ScriptedHttpServer("302", location="/login?next=/") as login, \
            ScriptedHttpServer("302", location="http://elsewhere.invalid/") as astray:
        prefix = f"http://127.0.0.1:{login.port}/login"
        samples = collect([HttpProbe("login", login.url, RATE_HZ, TIMEOUT_S, expect_location=prefix),
                           HttpProbe("astray", astray.url, RATE_HZ, TIMEOUT_S,
                                     expect_location="http://127.0.0.1/login")])
    good = only(samples["login"])
    assert (good.outcome, good.status, good.detail) == (Outcome.OK, 302, "302 redirect to /login?next=/ (expected)")
    assert login.requests == len(samples["login"])  # checked, not followed
    assert only(samples["astray"]).outcome is Outcome.HTTP_3XX


def test_a_followed_redirect_is_judged_by_the_final_answer_and_its_identity() -> None:
    with ScriptedHttpServer("ok", identity="i-0abc") as service, \
            ScriptedHttpServer("ok", identity="maintenance") as maintenance:
        with ScriptedHttpServer("301", location=service.url) as to_service, \
                ScriptedHttpServer("307", location=maintenance.url) as to_maintenance:
            samples = collect([
                HttpProbe("service", to_service.url, RATE_HZ, TIMEOUT_S, follow_redirects=1, expect_identity="i-"),
                HttpProbe("maintenance", to_maintenance.url, RATE_HZ, TIMEOUT_S, follow_redirects=1,
                          expect_identity="i-")])
    served = only(samples["service"])
    assert (served.outcome, served.status, served.served_by) == (Outcome.OK, 200, "i-0abc")
    assert served.peer == f"127.0.0.1:{service.port}" and served.detail == f"followed 301 -> {service.url}"
    fallback = only(samples["maintenance"])
    assert (fallback.outcome, fallback.served_by) == (Outcome.FALLBACK, "maintenance")
    assert service.requests == len(samples["service"])


def test_following_is_bounded_and_guarded() -> None:
    """A loop of redirects ends at the hop limit as a 3xx; a Location outside the allowed networks is
    refused before anything is sent there."""
    with ScriptedHttpServer("302") as looping, ScriptedHttpServer("302", location="http://127.0.0.2:9/") as away:
        looping.location = looping.url
        samples = collect([HttpProbe("loop", looping.url, RATE_HZ, TIMEOUT_S, follow_redirects=3),
                           HttpProbe("away", away.url, RATE_HZ, TIMEOUT_S, follow_redirects=3)],
                          allowed=["127.0.0.1/32"])
    loop = only(samples["loop"])
    assert loop.outcome is Outcome.HTTP_3XX and loop.detail.count("302 ->") == 3
    assert looping.requests == 4 * len(samples["loop"])
    blocked = only(samples["away"])
    assert blocked.outcome is Outcome.BLOCKED and "127.0.0.2" in blocked.detail


@pytest.mark.parametrize(("mode", "outcome"), [
    ("reset", Outcome.RESET), ("close", Outcome.CLOSED), ("hang", Outcome.TIMEOUT),
    ("garbage", Outcome.BAD_RESPONSE)])
def test_failures_after_connecting(mode: str, outcome: Outcome) -> None:
    with ScriptedHttpServer(mode) as server:
        sample = only(collect([HttpProbe("http", server.url, RATE_HZ, TIMEOUT_S)])["http"])
    assert sample.outcome is outcome and sample.connect_s is not None
    assert sample.peer == f"127.0.0.1:{server.port}"
    assert (sample.latency_s is None) == (outcome is Outcome.TIMEOUT)


def test_refused_and_black_hole_are_told_apart_and_name_the_address() -> None:
    port = closed_port()
    with BlackHole() as hole:
        samples = collect([HttpProbe("refused", f"http://127.0.0.1:{port}/", RATE_HZ, TIMEOUT_S),
                           HttpProbe("blackhole", f"http://127.0.0.1:{hole.port}/", RATE_HZ, TIMEOUT_S)])
    refused, black = only(samples["refused"]), only(samples["blackhole"])
    assert refused.outcome is Outcome.REFUSED and refused.peer == f"127.0.0.1:{port}"
    assert black.outcome is Outcome.CONNECT_TIMEOUT and black.latency_s is None
    assert black.peer == f"127.0.0.1:{hole.port}"


def test_a_name_is_resolved_and_the_connected_address_recorded() -> None:
    with ScriptedHttpServer("ok") as server:
        sample = only(collect([HttpProbe("http", f"http://localhost:{server.port}/", RATE_HZ, TIMEOUT_S)])["http"])
    assert sample.outcome is Outcome.OK and sample.peer == f"127.0.0.1:{server.port}"


def test_keepalive_rides_one_connection() -> None:
    with ScriptedHttpServer("ok") as server:
        samples = collect([HttpProbe("ka", server.url, RATE_HZ, TIMEOUT_S, keepalive=True)])["ka"]
    assert [s.reused for s in samples] == [False] + [True] * 5
    assert all(s.good for s in samples) and server.connections == 1
    assert samples[0].connect_s is not None and samples[1].connect_s is None


def test_keepalive_stays_on_its_connection_until_it_breaks() -> None:
    with ScriptedHttpServer("ok") as server:
        timeline = Timeline.begin("test")
        with ProbeRunner(timeline, [HttpProbe("ka", server.url, RATE_HZ, TIMEOUT_S, keepalive=True)]) as runner:
            assert runner.wait_for(lambda: runner.stats()["ka"].completed >= 3, 5.0)
            server.switch("refuse")  # the instance goes away: its open connections break too
            assert runner.wait_for(lambda: runner.stats()["ka"].completed >= 8, 5.0)
    samples = timeline.samples_of("ka")
    broken = next(s for s in samples if not s.good)
    assert broken.reused and broken.outcome is Outcome.RESET
    after = samples[samples.index(broken) + 1:]
    assert after and all(s.outcome is Outcome.REFUSED and s.reused is False for s in after)


@pytest.mark.parametrize(("mode", "outcome", "status"), [
    ("ok", Outcome.OK, 200), ("503", Outcome.HTTP_5XX, 503), ("hang", Outcome.TIMEOUT, None)])
def test_health_endpoint_states(mode: str, outcome: Outcome, status: int | None) -> None:
    with ScriptedHttpServer(mode) as server:
        sample = only(collect([HealthProbe("health", server.url, RATE_HZ, TIMEOUT_S)])["health"])
    assert (sample.kind, sample.outcome, sample.status) == ("health", outcome, status)


def test_health_endpoint_of_a_stopped_proxy_is_refused() -> None:
    sample = only(collect([HealthProbe("health", f"http://127.0.0.1:{closed_port()}/", RATE_HZ)])["health"])
    assert sample.outcome is Outcome.REFUSED


async def _parse(raw: bytes) -> tuple[int, bool, str | None]:
    reader = asyncio.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    response = await read_response(reader)
    leftover = await reader.read()
    return response.status, response.keep_alive, leftover.decode() or None


@pytest.mark.parametrize(("raw", "expected"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokNEXT", (200, True, "NEXT")),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\nabc\r\n0\r\n\r\nNEXT",
     (200, True, "NEXT")),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", (204, True, None)),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", (200, False, None)),
    (b"HTTP/1.1 503 Down\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", (503, False, None)),
])
def test_response_framing(raw: bytes, expected: tuple[int, bool, str | None]) -> None:
    assert asyncio.run(_parse(raw)) == expected
