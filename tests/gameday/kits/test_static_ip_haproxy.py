"""static-ip-haproxy's kit without a cloud: the readings (DNS leave time, dead-answer share, fleet switch), the
model, and the DNS-leave judge with its model and keep-alive checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gameday.kits.blocks.dns_answers import address_move
from gameday.kits.static_ip_haproxy import model
from gameday.kits.static_ip_haproxy.judges import KeepAlive, dns_leave_judge
from gameday.kits.static_ip_haproxy.measure import (
    dead_share,
    first_served_by,
)
from gameday.kits.static_ip_haproxy.scenarios import SCENARIOS
from gameday.model import PredictedPhase, Prediction
from gameday.scenario import FailoverRun, Judgement, Verdict
from gameday.timeline import Outcome, Sample, Timeline
from localcloud.profiles import load

FAULT_AT = 1000.0


def _dns(timeline: Timeline, seq: int, at: float, answer: str, probe: str = "dns") -> None:
    timeline.add_sample(Sample(probe, "dns", "www/A@x", seq, 0.0, 0.0, FAULT_AT + at, Outcome.OK, 0.001,
                               answers=(answer,)))


def _answers(pattern: list[tuple[float, str]], probe: str = "dns") -> Timeline:
    timeline = Timeline("run", FAULT_AT - 10, 0.0)
    for seq, (at, answer) in enumerate(pattern):
        _dns(timeline, seq, at, answer, probe)
    return timeline


def test_the_dead_address_leaves_at_its_last_sighting_before_a_long_gap() -> None:
    pattern = [(t / 10, "10.0.0.1" if t % 4 == 0 else "10.0.0.2") for t in range(95)]  # dead until 9.2 s
    pattern += [(t / 10, "10.0.0.2") for t in range(95, 200)]
    pattern += [(20.0, "10.0.0.1")]  # replaced with the same address: back later, not part of leaving
    leave = address_move(_answers(pattern), "dns", ["10.0.0.1"], FAULT_AT)
    assert leave.left
    assert leave.last_seen_s == pytest.approx(9.2)


def test_an_address_still_answered_at_the_end_has_not_left() -> None:
    leave = address_move(_answers([(t / 10, "10.0.0.1") for t in range(50)]), "dns", ["10.0.0.1"], FAULT_AT)
    assert not leave.left


def test_dead_share_per_second() -> None:
    shares = dead_share(_answers([(0.1, "a"), (0.2, "b"), (1.1, "b"), (1.2, "b")]), "dns", ["a"], FAULT_AT)
    assert shares == [(0.0, 0.5, 2), (1.0, 0.0, 2)]


def test_first_answer_from_the_new_fleet() -> None:
    timeline = Timeline("run", FAULT_AT - 10, 0.0)
    for seq, (at, who) in enumerate([(1.0, "blue/i-1"), (2.0, "blue/i-1"), (3.5, "green/i-2")]):
        timeline.add_sample(Sample("https:a1", "http", "https://x/", seq, 0.0, 0.0, FAULT_AT + at, Outcome.OK,
                                   0.01, status=200, served_by=who))
    assert first_served_by(timeline, "https:a1", "green/", FAULT_AT) == pytest.approx(3.5)


def test_the_model_matches_the_b1_formula_under_the_fast_profile() -> None:
    prediction = model.terminate_proxy(load("fast"), None)
    # F=3 x (I=10 s x 0.2 + t_f=4 s x 0.2) + status-to-DNS 5.5 s x 0.2
    assert prediction.mean_s == pytest.approx(3 * (2.0 + 0.8) + 1.1)


def test_the_model_reads_the_stack_defaults_under_the_realistic_profile() -> None:
    prediction = model.block_az_nacl(load("realistic"), None)
    assert prediction.mean_s == pytest.approx(3 * (10 + 4) + 5.5)




# The judge: the DNS-leave time, the model check under the fast profile and the keep-alive connection.

DEAD, LIVE = "10.0.0.1", "10.0.0.2"


def _run(timeline: Timeline, *, profile: str = "fast", predicted_s: float | None = 9.5,
         budget_s: float = 15.0) -> FailoverRun:
    prediction = None if predicted_s is None else Prediction(
        "static-ip-haproxy", "block-az-nacl", profile, (PredictedPhase("health_check", predicted_s, predicted_s,
                                                                        predicted_s, "test"),))
    return SimpleNamespace(timeline=timeline, prediction=prediction, budget_s=budget_s, profile=profile,  # type: ignore[return-value]
                           backend=SimpleNamespace(profile=profile))


def _leaving_at(left_s: float, *, keepalive_failures: int = 0) -> Timeline:
    """The dead address in the answers until `left_s`, then only the live one; a keep-alive client on it."""
    timeline = _answers([(t / 10, DEAD if t / 10 <= left_s and t % 2 == 0 else LIVE) for t in range(250)],
                        "dns:authoritative")
    for seq in range(100):
        bad = seq < keepalive_failures
        timeline.add_sample(Sample("https-keepalive:b1", "http_keepalive", "https://b1/", seq, 0.0, 0.0,
                                   FAULT_AT + seq / 10, Outcome.CONNECT_TIMEOUT if bad else Outcome.OK,
                                   None if bad else 0.01, status=None if bad else 200))
    return timeline


def _judge(timeline: Timeline, keepalive: KeepAlive | None = None, **run: object) -> Judgement:
    return dns_leave_judge([DEAD], keepalive)(_run(timeline, **run), None, FAULT_AT)  # type: ignore[arg-type]


def test_the_dead_address_leaving_within_budget_and_model_passes() -> None:
    timeline = _leaving_at(9.0)
    judged = _judge(timeline)
    assert judged.verdict is Verdict.PASSED, judged.message
    assert judged.headline is not None and judged.headline.seconds == pytest.approx(9.0)
    assert [e.detail["measure"] for e in timeline.events_of("gameday.measure")] == ["dns_leave"]


def test_under_the_fast_profile_a_time_off_the_model_fails_even_within_budget() -> None:
    judged = _judge(_leaving_at(12.0))
    assert judged.verdict is Verdict.FAILED
    assert "the model says 9.50 s" in judged.message


@pytest.mark.parametrize(("left_at", "verdict"), [(7.55, Verdict.PASSED), (5.0, Verdict.FAILED)])
def test_the_model_range_reaches_one_health_check_interval_below_the_worst_case(left_at: float,
                                                                               verdict: Verdict) -> None:
    """The checkers' phase against the fault: a check right after it saves up to one interval."""
    fast = load("fast")
    prediction = model.terminate_proxy(fast, None)
    interval = model.health_timing(fast, model.stack_config(model.STACK, None)).interval_s
    assert (prediction.mean_s, prediction.high_s - prediction.low_s) == pytest.approx((9.5, interval))
    timeline = _leaving_at(left_at)
    run = _run(timeline)
    run.prediction = prediction  # type: ignore[misc]
    judged = dns_leave_judge([DEAD])(run, None, FAULT_AT)  # type: ignore[arg-type]
    assert judged.verdict is verdict, judged.message


def test_outside_the_fast_profile_only_the_budget_counts() -> None:
    assert _judge(_leaving_at(12.0), profile="aws").verdict is Verdict.PASSED


def test_a_security_group_block_that_breaks_the_established_connection_fails() -> None:
    judged = _judge(_leaving_at(9.0, keepalive_failures=40), KeepAlive("b1", DEAD, "security-group", survives=True))
    assert judged.verdict is Verdict.FAILED
    assert "security groups are stateful" in judged.message


def test_a_nacl_block_that_leaves_the_established_connection_alive_fails() -> None:
    judged = _judge(_leaving_at(9.0), KeepAlive("b1", DEAD, "network-acl", survives=False))
    assert judged.verdict is Verdict.FAILED
    assert "network ACLs are stateless" in judged.message


def test_a_nacl_block_that_breaks_the_established_connection_passes() -> None:
    timeline = _leaving_at(9.0, keepalive_failures=40)
    judged = _judge(timeline, KeepAlive("b1", DEAD, "network-acl", survives=False))
    assert judged.verdict is Verdict.PASSED, judged.message
    assert "broke (40 of 100 requests on it failed)" in judged.message


def test_without_an_authoritative_server_every_scenario_is_not_run_with_the_reason() -> None:
    outputs = {"ProxyIps": "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4"}
    deployment = SimpleNamespace(main=None, output=outputs.__getitem__)
    for spec in SCENARIOS:
        game = SimpleNamespace(backend=SimpleNamespace(name="aws", resolvers=list), profile=load("fast"),
                               report=SimpleNamespace(scenarios=[]),
                               new_timeline=lambda stack, scenario: Timeline("run", FAULT_AT, 0.0))
        [result] = spec.run(game, deployment, spec)  # type: ignore[arg-type]
        assert result.verdict is Verdict.NOT_RUN and "no authoritative DNS server" in result.message
        assert game.report.scenarios == [result]
