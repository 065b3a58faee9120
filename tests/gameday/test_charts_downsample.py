"""The report's lanes are downsampled when report.json is written: a three-hour lane stays a few hundred
rectangles, an outage still shows where it happened, and an older report.json (inline timeline) draws the same."""

from __future__ import annotations

import re

from gameday.reports.charts import WIDTH, chart_data, timeline_svg
from gameday.timeline import Outcome, Sample, Timeline

START = 1_800_000_000.0


def soak(hours: float, rate: float, outage: tuple[float, float]) -> Timeline:
    timeline = Timeline("soak", START, 0.0)
    for seq in range(int(hours * 3600 * rate)):
        at = seq / rate
        bad = outage[0] <= at < outage[1]
        timeline.add_sample(Sample("http:client", "http", "http://svc/", seq, at, at, START + at,
                                   Outcome.TIMEOUT if bad else Outcome.OK, None if bad else 0.002))
        timeline.add_sample(Sample("dns:auth", "dns", "svc/A@ns", seq, at, at, START + at, Outcome.OK, 0.0003,
                                   answers=("10.0.0.2",) if at >= outage[1] else ("10.0.0.1",)))
    return timeline


def scenario(timeline: Timeline, fault_at: float, chart: bool) -> dict[str, object]:
    data: dict[str, object] = {"stack": "s", "scenario": "soak", "fault_at": fault_at, "failover": None,
                               "timeline": timeline.to_dict()}
    if chart:
        data["chart"] = chart_data(timeline, fault_at)
    return data


def test_three_hours_of_samples_draw_a_bounded_lane_with_the_outage_in_place() -> None:
    timeline = soak(3.0, 2.0, outage=(5_400.0, 5_430.0))  # 30 s of timeouts in the middle
    chart = chart_data(timeline, START)
    client, dns = chart["lanes"][0], chart["lanes"][1]
    assert (client["probe"], dns["probe"]) == ("http:client", "dns:auth")  # DNS lanes last
    assert all(len(lane["runs"]) <= WIDTH for lane in chart["lanes"])
    timeouts = [run for run in client["runs"] if run[3] == "timeout"]
    assert len(timeouts) == 1 and abs(timeouts[0][0] - WIDTH // 2) <= 1  # half-way through the lane
    assert len({run[3] for run in dns["runs"]}) == 2  # one answer set, then the other
    svg = timeline_svg({"stack": "s", "scenario": "soak", "fault_at": START, "chart": chart}, "t")
    assert len(re.findall("<rect", svg)) < 20 and len(svg) < 10_000


def test_an_older_report_json_with_its_timeline_inline_draws_the_same_chart() -> None:
    timeline = soak(0.2, 5.0, outage=(100.0, 110.0))
    fault_at = START + 100.0
    assert timeline_svg(scenario(timeline, fault_at, chart=False), "t") == \
        timeline_svg(scenario(timeline, fault_at, chart=True), "t")


def test_a_lane_before_the_window_is_still_drawn_empty() -> None:
    timeline = soak(0.01, 5.0, outage=(0.0, 0.0))
    chart = chart_data(timeline, START + 3_600.0)  # every sample long before the fault's lead
    assert [lane["runs"] for lane in chart["lanes"]] == [[], []]
