"""Measurements of static-ip-haproxy runs: DNS leave time, dead-answer share, fleet switch; and the model."""

from __future__ import annotations

import pytest

from gameday import model
from gameday.static_ip import dead_share, dns_leave, first_served_by, healthy_share
from gameday.timeline import Outcome, Sample, Timeline
from localcloud.profiles import load

FAULT_AT = 1000.0


def _dns(timeline: Timeline, seq: int, at: float, answer: str) -> None:
    timeline.add_sample(Sample("dns", "dns", "www/A@x", seq, 0.0, 0.0, FAULT_AT + at, Outcome.OK, 0.001,
                               answers=(answer,)))


def _answers(pattern: list[tuple[float, str]]) -> Timeline:
    timeline = Timeline("run", FAULT_AT - 10, 0.0)
    for seq, (at, answer) in enumerate(pattern):
        _dns(timeline, seq, at, answer)
    return timeline


def test_the_dead_address_leaves_at_its_last_sighting_before_a_long_gap() -> None:
    pattern = [(t / 10, "10.0.0.1" if t % 4 == 0 else "10.0.0.2") for t in range(95)]  # dead until 9.2 s
    pattern += [(t / 10, "10.0.0.2") for t in range(95, 200)]
    pattern += [(20.0, "10.0.0.1")]  # replaced with the same address: back later, not part of leaving
    leave = dns_leave(_answers(pattern), "dns", ["10.0.0.1"], FAULT_AT)
    assert leave.left
    assert leave.last_seen_s == pytest.approx(9.2)


def test_an_address_still_answered_at_the_end_has_not_left() -> None:
    leave = dns_leave(_answers([(t / 10, "10.0.0.1") for t in range(50)]), "dns", ["10.0.0.1"], FAULT_AT)
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


def test_healthy_share_counts_successes_among_observations() -> None:
    observations = [{"StatusReport": {"Status": "Success: HTTP Status Code 200, OK"}},
                    {"StatusReport": {"Status": "Failure: HTTP Status Code 503"}}]
    assert healthy_share(observations) == 0.5
    assert healthy_share([]) == 0.0


def test_the_model_matches_the_b1_formula_under_the_fast_profile() -> None:
    prediction = model.predict("static-ip-haproxy", "terminate-instance", load("fast"))
    assert prediction is not None
    # F=3 x (I=10 s x 0.2 + t_f=4 s x 0.2) + status-to-DNS 5.5 s x 0.2
    assert prediction.mean_s == pytest.approx(3 * (2.0 + 0.8) + 1.1)


def test_the_model_reads_the_stack_defaults_under_the_realistic_profile() -> None:
    prediction = model.predict("static-ip-haproxy", "block-az-nacl", load("realistic"))
    assert prediction is not None
    assert prediction.mean_s == pytest.approx(3 * (10 + 4) + 5.5)


def test_published_health_follows_the_last_published_flip() -> None:
    from gameday.static_ip import published_health
    from gameday.timeline import Event

    events = [Event(1.0, "localcloud.route53.health", "localcloud", "hc-1", {"healthy": False, "published": True}),
              Event(2.0, "localcloud.route53.health", "localcloud", "hc-1", {"healthy": True, "published": False}),
              Event(3.0, "localcloud.route53.health", "localcloud", "hc-2", {"healthy": False, "published": True})]
    assert published_health(events, ["hc-1", "hc-2", "hc-3"]) == {"hc-1": False, "hc-2": False, "hc-3": True}
