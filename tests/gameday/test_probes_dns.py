"""DNS probe against a scripted loopback server: answers, negative answers, truncation, failures."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from gameday.probes import DnsProbe, ProbeRunner
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, closed_port
from gameday.timeline import Outcome, Sample, Timeline

RATE_HZ = 20.0
TIMEOUT_S = 0.3


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    gc.collect()
    assert set(threading.enumerate()) <= before


def probe_once(server: tuple[str, int], rdtype: str = "A") -> Sample:
    """Sample for 0.2 s; every sample must agree; returns the last."""
    timeline = Timeline.begin("test")
    spec = DnsProbe("dns", "app.gameday.test.", rdtype, server=server, rate_hz=RATE_HZ, timeout_s=TIMEOUT_S)
    with ProbeRunner(timeline, [spec], duration_s=0.2) as runner:
        assert runner.wait_done(10.0)
    samples = timeline.samples_of("dns")
    assert len(samples) == 4 and len({(s.outcome, s.answers, s.detail) for s in samples}) == 1, samples
    return samples[-1]


def serve(mode: DnsMode, rdtype: str = "A") -> Sample:
    with ScriptedDnsServer(mode) as server:
        return probe_once(server.address, rdtype)


def test_answer_set_is_sorted_with_its_ttl_and_server() -> None:
    with ScriptedDnsServer(DnsMode(answers=("127.0.0.9", "127.0.0.3"), ttl=30)) as server:
        sample = probe_once(server.address)
    assert (sample.outcome, sample.answers, sample.ttl) == (Outcome.OK, ("127.0.0.3", "127.0.0.9"), 30)
    assert sample.peer == f"127.0.0.1:{server.port}" and sample.latency_s is not None
    assert sample.target == f"app.gameday.test./A@127.0.0.1:{server.port}"


def test_aaaa_answers() -> None:
    sample = serve(DnsMode(answers=("::ffff:127.0.0.5",)), "AAAA")
    assert sample.answers == ("::ffff:127.0.0.5",)


def test_truncated_udp_reply_falls_back_to_tcp() -> None:
    sample = serve(DnsMode(answers=("127.0.0.7",), truncate=True))
    assert sample.outcome is Outcome.OK and sample.answers == ("127.0.0.7",) and "via=tcp" in sample.detail


def test_truncated_reply_whose_tcp_retry_fails_is_recorded() -> None:
    sample = serve(DnsMode(answers=("127.0.0.7",), truncate=True, tcp=False))
    assert sample.outcome is Outcome.DNS_TRUNCATED and "TCP retry" in sample.detail


@pytest.mark.parametrize(("mode", "outcome"), [
    (DnsMode(rcode="NXDOMAIN"), Outcome.DNS_NXDOMAIN),
    (DnsMode(rcode="SERVFAIL"), Outcome.DNS_SERVFAIL),
    (DnsMode(rcode="REFUSED"), Outcome.DNS_REFUSED),
    (DnsMode(), Outcome.DNS_NODATA),
])
def test_negative_answers(mode: DnsMode, outcome: Outcome) -> None:
    sample = serve(mode)
    assert sample.outcome is outcome and sample.answers == ()


def test_nodata_keeps_the_negative_caching_ttl() -> None:
    assert serve(DnsMode(ttl=5)).ttl == 5


def test_no_reply_is_a_dns_timeout() -> None:
    sample = serve(DnsMode(drop=True))
    assert sample.outcome is Outcome.DNS_TIMEOUT and sample.latency_s is None


def test_unparseable_reply_is_a_bad_reply() -> None:
    assert serve(DnsMode(garbage=True)).outcome is Outcome.DNS_BAD_REPLY


def test_resolver_down_is_refused_at_once() -> None:
    sample = probe_once(("127.0.0.1", closed_port()))
    assert sample.outcome is Outcome.REFUSED and sample.latency_s is not None
    assert sample.latency_s < TIMEOUT_S


def test_record_flip_is_seen_on_the_next_sample() -> None:
    with ScriptedDnsServer(DnsMode(answers=("127.0.0.1",))) as server:
        timeline = Timeline.begin("test")
        spec = DnsProbe("dns", "app.gameday.test.", server=server.address, rate_hz=RATE_HZ, timeout_s=TIMEOUT_S)
        with ProbeRunner(timeline, [spec]) as runner:
            assert runner.wait_for(lambda: runner.stats()["dns"].completed >= 2, 5.0)
            server.switch(DnsMode(answers=("127.0.0.2",)))
            flipped_at = timeline.samples_of("dns")[-1].sent_at
            seen = runner.stats()["dns"].completed
            assert runner.wait_for(lambda: runner.stats()["dns"].completed >= seen + 6, 5.0)
    samples = timeline.samples_of("dns")
    assert {s.answers for s in samples if s.sent_at < flipped_at} == {("127.0.0.1",)}
    after = [s.answers for s in samples if s.sent_at > flipped_at + 2.5 / RATE_HZ]
    assert after and all(a == ("127.0.0.2",) for a in after)


@pytest.mark.parametrize(("expected", "outcome"), [
    (("127.0.0.3", "127.0.0.9"), Outcome.OK),  # the same set, in any order
    (("127.0.0.3",), Outcome.FALLBACK),  # one more address than the service has
    (("127.0.0.4",), Outcome.FALLBACK),  # the name points elsewhere
])
def test_an_expected_answer_set_classes_any_other_as_fallback(expected: tuple[str, ...], outcome: Outcome) -> None:
    timeline = Timeline.begin("test")
    with ScriptedDnsServer(DnsMode(answers=("127.0.0.9", "127.0.0.3"), ttl=30)) as server:
        spec = DnsProbe("dns", "app.gameday.test.", "A", server=server.address, rate_hz=RATE_HZ,
                        timeout_s=TIMEOUT_S, expect_answers=tuple(reversed(expected)))
        with ProbeRunner(timeline, [spec], duration_s=0.2) as runner:
            assert runner.wait_done(10.0)
    sample = timeline.samples_of("dns")[-1]
    assert (sample.outcome, sample.answers) == (outcome, ("127.0.0.3", "127.0.0.9"))
    assert ("expected" in sample.detail) is (outcome is Outcome.FALLBACK)
