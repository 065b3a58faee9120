"""Measured vs predicted per phase: segments from the prediction's `ends_at`, slow ones flagged."""

from __future__ import annotations

import pytest

from gameday.model import PredictedPhase, Prediction
from gameday.model.compare import compare, describe, took_the_time
from tests.gameday.scenario_data import scenario


def test_each_predicted_phase_lands_on_the_measured_phase_it_ends_at() -> None:
    result = scenario()
    assert result.failover is not None and result.prediction is not None

    checks = compare(result.failover, result.prediction, result.timeline.events)

    assert [c.phase for c in checks] == ["detection", "control_plane", "booted", "routed", "stable"]
    booted = checks[2]
    assert booted.predicted_phases == ("pending", "boot")
    assert booted.predicted_s == pytest.approx(12.7)
    assert booted.measured_s == pytest.approx(12.7, abs=0.11)
    assert not any(c.slow for c in checks)


def test_user_data_is_measured_only_work_not_excess() -> None:
    result = scenario(user_data_s=3.0)
    assert result.failover is not None and result.prediction is not None

    routed = compare(result.failover, result.prediction, result.timeline.events)[3]

    assert routed.explained_s == pytest.approx(3.0, abs=0.01)
    assert not routed.slow


def test_a_phase_slower_than_its_configuration_is_flagged_and_named() -> None:
    result = scenario(detection_s=12.0, predicted_detection_s=6.5)
    assert result.failover is not None and result.prediction is not None

    checks = compare(result.failover, result.prediction, result.timeline.events)

    assert [c.phase for c in checks if c.slow] == ["detection"]
    slowest = took_the_time(checks)
    assert slowest is not None and slowest.phase == "detection"
    assert describe(slowest).startswith("phase detection (slower than its configuration implies): 12.00 s measured")


def test_later_segments_are_not_blamed_for_an_earlier_slow_phase() -> None:
    result = scenario(detection_s=12.0, predicted_detection_s=6.5)
    assert result.failover is not None and result.prediction is not None

    checks = compare(result.failover, result.prediction, result.timeline.events)

    assert not checks[2].slow  # booted: its own segment is on time, only its cumulative time is late


def test_a_prediction_that_maps_to_no_measured_phase_is_not_cut_into_phases() -> None:
    result = scenario()
    assert result.failover is not None
    flat = Prediction("x", "y", "fast", (PredictedPhase("penalty", 6.0, 6.0, 6.0, "per request"),))

    assert compare(result.failover, flat, ()) == []


def test_a_prediction_ending_before_stable_gets_a_stable_row() -> None:
    result = scenario()
    assert result.failover is not None
    short = Prediction("x", "y", "fast", (PredictedPhase("detection", 6.5, 6.5, 6.5, "k"),
                                          PredictedPhase("rest", 7.0, 7.0, 7.0, "k")))

    checks = compare(result.failover, short, ())

    assert [(c.phase, c.predicted_phases) for c in checks] == [("detection", ("detection",)), ("stable", ("rest",))]
    assert checks[-1].predicted_s == 13.5


def test_a_phase_nothing_observed_does_not_hide_the_ones_after_it() -> None:
    result = scenario()
    assert result.failover is not None
    prediction = Prediction("x", "y", "fast", (
        PredictedPhase("detection", 6.5, 6.5, 6.5, "k"),
        PredictedPhase("dns", 1.0, 1.0, 1.0, "k", "dns_all@dns:caching"),  # the answer never moves here
        PredictedPhase("boot", 5.2, 5.2, 5.2, "k", "booted")))

    checks = compare(result.failover, prediction, ())

    assert checks[1].measured_s is None and checks[1].verdict == "not reached"
    assert checks[2].measured_segment_s == pytest.approx(6.2, abs=0.11)  # from detection, the last one measured
    assert checks[2].predicted_segment_s == pytest.approx(6.2)


def test_a_segment_that_only_makes_up_for_an_early_phase_is_not_slow() -> None:
    result = scenario(detection_s=4.0, user_data_s=0.0)
    assert result.failover is not None and result.prediction is not None
    late_tail = Prediction("x", "y", "fast", (
        PredictedPhase("detection", 6.5, 6.5, 6.5, "k", "detection"),
        PredictedPhase("rest", 4.0, 4.0, 4.0, "k", "booted")))  # measured 4.0 + 6.2: segment long, total early

    checks = compare(result.failover, late_tail, ())

    assert checks[1].excess_s is not None and checks[1].excess_s > 2.0
    assert not checks[1].slow
