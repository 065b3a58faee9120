"""The RTO rule on samples: reached within the RTO and held to the end of the watch; a relapse fails, with its time."""

from __future__ import annotations

import pytest

from gameday.analysis import analyze
from gameday.clock import FakeClock
from gameday.errors import ConfigError
from gameday.rto import RtoRule, evaluate_rto, summarize_outages
from gameday.timeline import Outcome, Sample, Timeline

STEP_S = 0.1  # 10 Hz
FAULT_AT = 1000.0


def _samples(pattern: str, start: float = FAULT_AT) -> list[Sample]:
    """'+' good, '-' failed, one per STEP_S from `start`."""
    return [Sample("http", "http", "u", seq, 0.0, 0.0, round(start + seq * STEP_S, 6),
                   Outcome.OK if mark == "+" else Outcome.HTTP_5XX, 0.01, 200 if mark == "+" else 503)
            for seq, mark in enumerate(pattern)]


def _end(pattern: str) -> float:
    return FAULT_AT + (len(pattern) - 1) * STEP_S


def test_a_recovery_that_holds_passes_at_its_first_good_sample() -> None:
    pattern = "-" * 30 + "+" * 80  # down 3 s, then good to the end
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=5.0)

    assert reading.holds
    assert reading.reached_s == pytest.approx(3.0) and reading.held_s == pytest.approx(3.0)
    assert reading.relapse_s is None
    assert "held" in reading.summary() and "+3.00 s" in reading.summary()


def test_a_relapse_fails_and_names_its_time_even_when_it_recovers_again() -> None:
    # down 1 s, good 6 s (more than the 5 s window: that is a recovery), down 1.5 s from +7 s, good again 6 s
    pattern = "-" * 10 + "+" * 60 + "-" * 15 + "+" * 60
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=30.0)

    assert not reading.holds
    assert reading.reached_s == pytest.approx(1.0)
    assert reading.relapse_s == pytest.approx(7.0)
    assert reading.held_s == pytest.approx(8.5)
    why = reading.failure()
    assert why is not None and "relapsed at +7.00 s" in why and "held again from +8.50 s" in why


def test_good_answers_shorter_than_the_window_between_two_outages_are_not_a_recovery() -> None:
    pattern = "-" * 10 + "+" * 20 + "-" * 10 + "+" * 60  # 2 s of good between two outages
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=5.0)

    assert reading.holds and reading.relapse_s is None
    assert reading.reached_s == pytest.approx(4.0)


def test_sparse_errors_under_the_target_are_not_an_outage() -> None:
    pattern = "-" + "+" * 99 + "-" + "+" * 149  # one failure in more than a hundred answers
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=1.0,
                           rule=RtoRule(target=0.99, window_s=12.0))

    assert reading.holds and reading.held_s == pytest.approx(0.1)


def test_reached_only_after_the_rto_fails_with_the_time() -> None:
    pattern = "-" * 80 + "+" * 60
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=5.0)

    assert not reading.holds
    why = reading.failure()
    assert why is not None and "only at +8.00 s, over the 5.0 s RTO" in why


def test_still_failing_at_the_end_of_the_watch_is_never_reached() -> None:
    pattern = "-" * 50
    reading = evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=_end(pattern), rto_s=5.0)

    assert not reading.holds and reading.reached_s is None and reading.held_s is None
    assert "never reached" in (reading.failure() or "")


def test_samples_after_the_end_of_the_watch_do_not_count() -> None:
    pattern = "-" * 10 + "+" * 60 + "-" * 20  # the failures come after the revert
    end = FAULT_AT + 69 * STEP_S
    assert evaluate_rto(_samples(pattern), fault_at=FAULT_AT, end_at=end, rto_s=5.0).holds


@pytest.mark.parametrize("target, window", [(0.0, 5.0), (1.5, 5.0), (True, 5.0), (0.99, 0.0), (0.99, float("inf"))])
def test_a_bad_rule_is_refused(target: float, window: float) -> None:
    with pytest.raises(ConfigError, match="RTO"):
        RtoRule(target=target, window_s=window)


def test_outage_windows_in_one_line() -> None:
    clock = FakeClock(start_at=FAULT_AT)
    timeline = Timeline.begin("t", clock)
    timeline.add_samples(_samples("+" * 5 + "-" * 10 + "+" * 10 + "-" * 3 + "+" * 10 + "-" * 20 + "+" * 20))
    failover = analyze(timeline, fault_at=FAULT_AT + 0.45, probe="http")

    summary = summarize_outages(failover.outage_windows)

    assert summary.count == 3
    assert summary.total_s == pytest.approx(1.0 + 0.3 + 2.0)
    assert summary.longest_s == pytest.approx(2.0)
    assert summary.first_since_fault_s == pytest.approx(0.05) and summary.last_since_fault_s == pytest.approx(3.35)
    line = summary.line()
    assert line.startswith("3 outage windows, 3.30 s in all: longest 2.00 s") and "report.json" in line
    assert summarize_outages([w.__dict__ for w in failover.outage_windows]) == summary  # from report.json too
