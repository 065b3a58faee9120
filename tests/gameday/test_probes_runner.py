"""The runner: open-loop schedule, bounded stop, the network guard, steady-state waits, TCP probes."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from gameday.errors import ConfigError, ProbeError
from gameday.probes import DnsProbe, HttpProbe, ProbeRunner, TcpProbe
from gameday.probes.http import HttpDriver
from gameday.probes.scripted import BlackHole, ScriptedHttpServer, closed_port
from gameday.timeline import Outcome, Sample, Timeline

LOOPBACK = ["127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"]


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    gc.collect()
    assert set(threading.enumerate()) <= before


@pytest.mark.timing
def test_a_hung_target_never_delays_the_next_send() -> None:
    """No coordinated omission: ten sends at 20 Hz all leave before the first 1 s timeout ends."""
    with ScriptedHttpServer("hang") as server:
        timeline = Timeline.begin("test")
        with ProbeRunner(timeline, [HttpProbe("http", server.url, rate_hz=20, timeout_s=1.0)],
                         duration_s=0.5) as runner:
            assert runner.wait_done(10.0)
    samples = timeline.samples_of("http")
    assert [s.seq for s in samples] == list(range(10))
    assert all(s.outcome is Outcome.TIMEOUT for s in samples)
    scheduled = [s.scheduled_mono for s in samples]
    assert [round(b - a, 6) for a, b in zip(scheduled, scheduled[1:], strict=False)] == [0.05] * 9
    assert samples[-1].sent_mono - samples[0].sent_mono < 0.9


@pytest.mark.timing
def test_schedule_and_timestamps_line_up_with_the_timeline_origin() -> None:
    with ScriptedHttpServer("ok") as server:
        timeline = Timeline.begin("test")
        with ProbeRunner(timeline, [TcpProbe("tcp", "127.0.0.1", server.port, rate_hz=50)],
                         duration_s=0.2) as runner:
            assert runner.wait_done(10.0)
    samples = timeline.samples_of("tcp")
    assert len(samples) == 10 and all(s.good for s in samples)
    for sample in samples:
        assert sample.lateness_s >= 0
        assert sample.sent_at == pytest.approx(timeline.origin_at + sample.sent_mono, abs=0.05)


def test_stop_is_bounded_idempotent_and_safe_before_start() -> None:
    with ScriptedHttpServer("hang") as server:
        runner = ProbeRunner(Timeline.begin("test"), [HttpProbe("http", server.url, 50, timeout_s=0.3)])
        runner.stop()  # never started: nothing to do
        runner = ProbeRunner(Timeline.begin("test"), [HttpProbe("http", server.url, 50, timeout_s=0.3)])
        runner.start()
        assert runner.wait_for(lambda: runner.stats()["http"].sent >= 5, 5.0)
        runner.stop()
        runner.stop()
        assert not runner.running
        with pytest.raises(ProbeError, match="already stopped"):
            runner.start()
    samples = runner.timeline.samples_of("http")
    assert samples and all(s.outcome is Outcome.TIMEOUT for s in samples)


def test_wait_for_streak_is_the_steady_state() -> None:
    with ScriptedHttpServer("ok") as server:
        probes = [HttpProbe("up", server.url, 50), TcpProbe("down", "127.0.0.1", closed_port(), 50)]
        with ProbeRunner(Timeline.begin("test"), probes) as runner:
            assert runner.wait_for_streak(5, timeout_s=5.0, probes=["up"])
            assert not runner.wait_for_streak(5, timeout_s=0.3)
            stats = runner.stats()
    assert stats["up"].streak >= 5 and stats["down"].streak == 0 and stats["down"].errors > 0
    assert stats["up"].lateness_max_s >= stats["up"].lateness_p99_s >= 0


def test_tcp_connect_outcomes() -> None:
    with ScriptedHttpServer("ok") as server, BlackHole() as hole:
        probes = [TcpProbe("open", "localhost", server.port, 20), TcpProbe("closed", "127.0.0.1", closed_port(), 20),
                  TcpProbe("hole", "127.0.0.1", hole.port, 20, timeout_s=0.2)]
        timeline = Timeline.begin("test")
        with ProbeRunner(timeline, probes, duration_s=0.2) as runner:
            assert runner.wait_done(10.0)
    outcomes = {name: {s.outcome for s in timeline.samples_of(name)} for name in ("open", "closed", "hole")}
    assert outcomes == {"open": {Outcome.OK}, "closed": {Outcome.REFUSED}, "hole": {Outcome.CONNECT_TIMEOUT}}
    assert timeline.samples_of("open")[0].peer == f"127.0.0.1:{server.port}"


def test_guard_refuses_targets_outside_before_sending_anything() -> None:
    with ScriptedHttpServer("ok") as server:
        runner = ProbeRunner(Timeline.begin("test"), [HttpProbe("http", server.url, 10)],
                             allowed_networks=["10.0.0.0/8"])
        with pytest.raises(ProbeError, match="outside the allowed networks"):
            runner.start()
        runner.stop()
    assert server.connections == 0 and runner.timeline.samples == []


@pytest.mark.parametrize("probe", [
    DnsProbe("dns", "app.test.", server=("192.0.2.1", 53), rate_hz=5),
    TcpProbe("tcp", "192.0.2.1", 80, rate_hz=5),
    HttpProbe("http", "http://[2001:db8::1]/", rate_hz=5),
])
def test_guard_covers_every_probe_kind(probe: DnsProbe | TcpProbe | HttpProbe) -> None:
    with pytest.raises(ProbeError, match="outside the allowed networks"):
        ProbeRunner(Timeline.begin("test"), [probe], allowed_networks=LOOPBACK).start()


def test_guard_lets_loopback_through_including_mapped_ipv6() -> None:
    """localcloud's IPv6 stacks use ::ffff:127.x.y.z: it must pass the guard and connect over loopback."""
    with ScriptedHttpServer("ok") as server:
        timeline = Timeline.begin("test")
        probes = [HttpProbe("name", f"http://localhost:{server.port}/", 20),
                  HttpProbe("mapped", f"http://[::ffff:127.0.0.1]:{server.port}/", 20),
                  TcpProbe("tcp", "::ffff:127.0.0.1", server.port, 20)]
        with ProbeRunner(timeline, probes, allowed_networks=LOOPBACK, duration_s=0.1) as runner:
            assert runner.wait_done(10.0)
    assert {s.outcome for s in timeline.samples} == {Outcome.OK}
    assert timeline.samples_of("mapped")[0].peer == f"[::ffff:127.0.0.1]:{server.port}"


def test_a_prober_bug_costs_one_sample_not_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    real = HttpDriver.sample

    async def flaky(self: HttpDriver, seq: int, scheduled_mono: float) -> Sample:
        if seq == 1:
            raise RuntimeError("bug")
        return await real(self, seq, scheduled_mono)

    monkeypatch.setattr(HttpDriver, "sample", flaky)
    with ScriptedHttpServer("ok") as server:
        timeline = Timeline.begin("test")
        with ProbeRunner(timeline, [HttpProbe("http", server.url, 20)], duration_s=0.2) as runner:
            assert runner.wait_done(10.0)
    outcomes = [s.outcome for s in timeline.samples_of("http")]
    assert outcomes == [Outcome.OK, Outcome.ERROR, Outcome.OK, Outcome.OK]


def test_bad_runner_input_is_a_config_error() -> None:
    probe = TcpProbe("tcp", "127.0.0.1", 80, 5)
    with pytest.raises(ConfigError, match="no probes"):
        ProbeRunner(Timeline.begin("test"), [])
    with pytest.raises(ConfigError, match="unique"):
        ProbeRunner(Timeline.begin("test"), [probe, probe])
    with pytest.raises(ConfigError, match="duration"):
        ProbeRunner(Timeline.begin("test"), [probe], duration_s=0)
