"""static-ip-haproxy's load tests and deploy by replacement without a cloud: the load readings (rate, error rate,
p99, drift), every proxy staying healthy, the 10x and soak verdicts (a load generator short of the rate is no
verdict), the no-op fault, the handover readings and verdict, and the load spread over several hosts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gameday.errors import ConfigError
from gameday.kits.static_ip_haproxy import KIT
from gameday.kits.static_ip_haproxy.load_judges import LoadBudgets, load_window, missing_from_dns, proxy_health
from gameday.kits.static_ip_haproxy.load_scenarios import UnderLoad, soak_judge, ten_x_judge
from gameday.kits.static_ip_haproxy.replacement import handover, handover_judge
from gameday.kits.static_ip_haproxy.steady import SLOTS
from gameday.load import LoadConfig, LoadFiles, check_target
from gameday.load.merge import LOAD_KIND
from gameday.load.runner import locust_command
from gameday.scenario import FailoverRun, Verdict
from gameday.timeline import Event, Outcome, Sample, Timeline

T0 = 1000.0
IPS = {slot: f"127.9.0.{n}" for n, slot in enumerate(SLOTS, start=1)}
BUDGETS = LoadBudgets(error_rate=0.01, p99_s=0.5, drift=2.0)


def _load(timeline: Timeline, start: float, end: float, rate: float, *, latency_s: float = 0.02,
          failing_every: int = 0) -> None:
    """Load samples at `rate`/s in [start, end); every `failing_every`-th one refused."""
    count = int((end - start) * rate)
    for seq in range(count):
        bad = failing_every and seq % failing_every == 0
        timeline.add_sample(Sample("load:root/keepalive", LOAD_KIND, "https://x/", seq, 0.0, 0.0,
                                   start + seq / rate, Outcome.REFUSED if bad else Outcome.OK,
                                   None if bad else latency_s, status=None if bad else 200))


def _healthy(timeline: Timeline, end: float, *, missing: str | None = None, sick: str | None = None) -> None:
    """10 Hz weighted answers cycling over the four addresses (or three), and 2 Hz health samples per slot."""
    answers = [ip for ip in IPS.values() if ip != missing]
    for seq in range(int((end - T0) * 10)):
        timeline.add_sample(Sample("dns:authoritative", "dns", "www/A", seq, 0.0, 0.0, T0 + seq / 10, Outcome.OK,
                                   0.001, answers=(answers[seq % len(answers)],)))
    for slot in SLOTS:
        for seq in range(int((end - T0) * 2)):
            bad = slot == sick and seq > 10
            timeline.add_sample(Sample(f"health:{slot}", "health", "h", seq, 0.0, 0.0, T0 + seq / 2,
                                       Outcome.HTTP_5XX if bad else Outcome.OK, 0.01, status=503 if bad else 200))


def _run(timeline: Timeline, budget_s: float = 0.5) -> FailoverRun:
    return SimpleNamespace(timeline=timeline, budget_s=budget_s)  # type: ignore[return-value]


def _stack() -> SimpleNamespace:
    return SimpleNamespace(ips=IPS, name="www.sih.test")


def test_a_load_window_counts_rate_errors_and_the_p99_of_answered_requests() -> None:
    timeline = Timeline("r", T0, 0.0)
    _load(timeline, T0, T0 + 10, 50, failing_every=25)
    window = load_window(timeline, T0, T0 + 10)
    assert (window.requests, window.errors) == (500, 20)
    assert window.rate == pytest.approx(50)
    assert window.error_rate == pytest.approx(0.04)
    assert window.p99_s == pytest.approx(0.02)


def test_an_address_missing_from_a_window_of_answers_is_named() -> None:
    timeline = Timeline("r", T0, 0.0)
    _healthy(timeline, T0 + 30, missing=IPS["b2"])
    gaps = missing_from_dns(timeline, "dns:authoritative", list(IPS.values()), T0)
    assert gaps and all(missing == (IPS["b2"],) for _, missing in gaps)
    assert missing_from_dns(_all_four(), "dns:authoritative", list(IPS.values()), T0) == []


def _all_four() -> Timeline:
    timeline = Timeline("r", T0, 0.0)
    _healthy(timeline, T0 + 30)
    return timeline


def test_route53_marking_a_check_unhealthy_is_not_healthy() -> None:
    timeline = _all_four()
    timeline.add_event(Event(T0 + 5, "localcloud.route53.health", "localcloud", "hc-1",
                             {"published": True, "healthy": False}))
    reading = proxy_health(timeline, [f"health:{s}" for s in SLOTS], "dns:authoritative", list(IPS.values()), T0)
    assert not reading.healthy
    assert "Route 53 marked 1 health check(s) unhealthy" in reading.describe()


def _ten_x(timeline: Timeline, peak_rate: float = 200.0) -> object:
    return ten_x_judge(BUDGETS, peak_rate, 20.0)(_stack())(_run(timeline), None, T0 + 10)  # type: ignore[arg-type]


def test_10x_within_budget_with_every_proxy_healthy_passes() -> None:
    timeline = _all_four()
    timeline.add_event(Event(T0, "load.start", "load", "x", {}))
    _load(timeline, T0, T0 + 10, 20)
    _load(timeline, T0 + 10, T0 + 30, 200, latency_s=0.05)
    judged = _ten_x(timeline)
    assert judged.verdict is Verdict.PASSED, judged.message  # type: ignore[attr-defined]
    assert judged.headline.seconds == pytest.approx(0.05)  # type: ignore[attr-defined]


def test_10x_with_a_health_endpoint_failing_fails_and_says_which() -> None:
    timeline = Timeline("r", T0, 0.0)
    _healthy(timeline, T0 + 30, sick="a2")
    _load(timeline, T0 + 10, T0 + 30, 200)
    judged = _ten_x(timeline)
    assert judged.verdict is Verdict.FAILED  # type: ignore[attr-defined]
    assert "health:a2" in judged.message  # type: ignore[attr-defined]


def test_10x_over_the_error_budget_fails() -> None:
    timeline = _all_four()
    _load(timeline, T0 + 10, T0 + 30, 200, failing_every=20)
    judged = _ten_x(timeline)
    assert judged.verdict is Verdict.FAILED  # type: ignore[attr-defined]
    assert "error rate 5.00% over the 1.00% budget" in judged.message  # type: ignore[attr-defined]


def test_a_load_generator_short_of_the_rate_gives_no_verdict_on_the_stack() -> None:
    timeline = _all_four()
    _load(timeline, T0 + 10, T0 + 30, 100)
    judged = _ten_x(timeline, peak_rate=200.0)
    assert judged.verdict is Verdict.ERROR  # type: ignore[attr-defined]
    assert "this host could not make the load" in judged.message  # type: ignore[attr-defined]


def test_a_soak_whose_p99_grows_past_the_drift_budget_fails() -> None:
    timeline = Timeline("r", T0, 0.0)
    _healthy(timeline, T0 + 130)
    _load(timeline, T0 + 10, T0 + 70, 20, latency_s=0.02)
    _load(timeline, T0 + 70, T0 + 130, 20, latency_s=0.08)
    judged = soak_judge(BUDGETS, 20.0, 120.0)(_stack())(_run(timeline), None, T0 + 10)  # type: ignore[arg-type]
    assert judged.verdict is Verdict.FAILED
    assert "p99 drifted 4.00x, over the 2.00x budget" in judged.message


def test_the_load_fault_changes_nothing_and_reverts_nothing() -> None:
    fault = UnderLoad("load-10x", "ten times the normal load", ("g-a1", "g-a2", "g-b1", "g-b2"))
    plan = fault.plan()
    assert plan.revert.kind == "none"
    assert [t.resource_id for t in plan.targets] == ["g-a1", "g-a2", "g-b1", "g-b2"]
    assert plan.action.startswith("no change to any resource")


def _address(pattern: list[tuple[float, str | None]]) -> Timeline:
    """https:a1 samples: (seconds after T0, who served or None for a failure)."""
    timeline = Timeline("r", T0, 0.0)
    for seq, (at, who) in enumerate(pattern):
        timeline.add_sample(Sample("https:a1", "http", "https://a1/", seq, 0.0, 0.0, T0 + at,
                                   Outcome.OK if who else Outcome.CONNECT_TIMEOUT, 0.01 if who else None,
                                   status=200 if who else None, served_by=who))
    return timeline


def test_the_handover_gap_runs_from_the_first_failure_to_the_next_good_answer() -> None:
    pattern = [(t / 5, "blue/i-old") for t in range(50)]
    pattern += [(10 + t / 5, None) for t in range(8)]  # 10.0 .. 11.4 s failing
    pattern += [(12 + t / 5, "blue/i-new") for t in range(20)]
    seen = handover(_address(pattern), "https:a1", "a1", "blue/i-new", T0)
    assert seen.gap_s == pytest.approx(2.0)
    assert seen.taken_over_s == pytest.approx(12.0)
    assert (seen.errors, seen.recovered) == (8, True)


def test_an_address_never_served_by_the_new_copy_fails_the_handover() -> None:
    timeline = _address([(t / 5, "blue/i-old") for t in range(50)])
    for slot in SLOTS[1:]:
        for seq in range(5):
            timeline.add_sample(Sample(f"https:{slot}", "http", "u", seq, 0.0, 0.0, T0 + 5 + seq, Outcome.OK, 0.01,
                                       status=200, served_by="blue/i-new"))
    fault = SimpleNamespace(new_identity="blue/i-new", new=SimpleNamespace(name="copy-2"))
    judged = handover_judge(fault)(_run(timeline, 5.0), None, T0)  # type: ignore[arg-type]
    assert judged.verdict is Verdict.FAILED
    assert judged.message.startswith("a1 not served by the new copy")


def test_the_load_spreads_over_further_loopback_hosts_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = LoadConfig(hosts=("https://127.9.0.2/", "https://127.9.0.3:443/"))
    command = locust_command(config, check_target("https://127.9.0.1/"), LoadFiles(tmp_path), 0)
    assert command[command.index("--gameday-hosts") + 1] == \
        "https://127.9.0.1,https://127.9.0.2,https://127.9.0.3:443"
    with pytest.raises(ConfigError, match="loopback"):
        LoadConfig(hosts=("https://10.0.0.1/",))


def test_the_extended_scenarios_are_in_the_kit_on_deployments_of_their_own() -> None:
    extended = {s.name: s.deployment for s in KIT.scenarios if s.extended}
    assert extended["10x-load"] == extended["soak"] == "load"
    assert extended["deploy-by-replacement"] == "replacement"
