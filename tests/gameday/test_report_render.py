"""report.json, summary.md, junit.xml and report.html from synthetic runs; merging per-stack parts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from gameday.reports import RunReport, merge, read_parts, write_outputs, write_part
from gameday.reports.charts import WIDTH
from tests.gameday.scenario_data import scenario


def report(*results: Any, run_id: str = "run-1") -> RunReport:
    run = RunReport(run_id, "localcloud", "fast", started_at=1_000.0, ended_at=1_100.0)
    run.scenarios.extend(results)
    return run


def test_report_json_carries_the_phase_check_and_every_sample(tmp_path: Path) -> None:
    folder = write_outputs(report(scenario()).to_dict(), tmp_path)

    data = json.loads((folder / "report.json").read_text())
    [s] = data["scenarios"]
    assert data["schema"] == 2 and data["passed"]
    assert [c["phase"] for c in s["phase_check"]] == ["detection", "control_plane", "booted", "routed", "stable"]
    assert s["measured_only"][0]["name"] == "user_data"
    assert len(s["timeline"]["samples"]) > 300


def test_junit_has_the_numbers_as_properties(tmp_path: Path) -> None:
    folder = write_outputs(report(scenario()).to_dict(), tmp_path)

    case = ET.parse(folder / "junit.xml").getroot().find("testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert {"failover_time_s", "predicted_s", "budget_s", "availability"} <= set(props)
    assert float(props["predicted_s"] or 0) == pytest.approx(13.5)


def test_summary_names_the_slow_phase_and_the_budget(tmp_path: Path) -> None:
    slow = scenario(detection_s=12.0, predicted_detection_s=6.5, budget_s=15.0)
    folder = write_outputs(report(slow).to_dict(), tmp_path)

    summary = (folder / "summary.md").read_text()
    assert "FAILED" in summary
    row = next(line for line in summary.splitlines() if line.startswith("| eip-self-healing |"))
    assert row.endswith("| detection |")  # the "Slower than configured" column
    assert "slower than configured" in summary


def test_repeats_report_a_distribution(tmp_path: Path) -> None:
    runs = report(*(scenario(detection_s=d) for d in (6.0, 6.5, 7.0, 7.5, 9.0)))

    data = runs.to_dict()

    spread = data["distributions"]["eip-self-healing/terminate-instance"]
    assert spread["attempts"] == 5
    assert spread["p50_s"] < spread["p95_s"] == spread["max_s"]
    assert [s["attempt"] for s in data["scenarios"]] == [1, 2, 3, 4, 5]
    summary = (write_outputs(data, tmp_path) / "summary.md").read_text()
    assert "## Repeats" in summary and "| eip-self-healing/terminate-instance | 5 | 5 |" in summary


def test_parts_of_parallel_stacks_merge_into_one_report_and_one_history_line(tmp_path: Path) -> None:
    folder = tmp_path / "run-1"
    write_part(report(scenario()), folder, "eip-self-healing")
    other = scenario()
    other = type(other)(**{**other.__dict__, "stack_id": "static-ip-haproxy"})
    write_part(report(other), folder, "static-ip-haproxy")

    merged = merge(read_parts(folder))
    write_outputs(merged, tmp_path)

    assert [s["stack"] for s in merged["scenarios"]] == ["eip-self-healing", "static-ip-haproxy"]
    assert (tmp_path / "history.jsonl").read_text().count("\n") == 1
    assert len(json.loads((tmp_path / "history.jsonl").read_text())["scenarios"]) == 2


def test_html_is_self_contained_and_downsampled(tmp_path: Path) -> None:
    folder = write_outputs(report(scenario(with_load=True)).to_dict(), tmp_path)

    html = (folder / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count('class="chart"') >= 1 and 'id="timeline-0"' in html
    assert html.count("<rect") < 4 * WIDTH  # lanes are runs of pixel columns, not one shape per sample


def test_judged_scenario_reports_its_headline_not_a_failover_time(tmp_path: Path) -> None:
    import dataclasses

    from gameday.scenario import Headline

    judged = dataclasses.replace(scenario(), scenario="primary-unreachable",
                                 headline=Headline("per-request penalty p50", 6.001))
    folder = write_outputs(report(judged).to_dict(), tmp_path)

    [s] = json.loads((folder / "report.json").read_text())["scenarios"]
    assert (s["measure"], s["measured_s"]) == ("per-request penalty p50", 6.001)
    assert "6.00 s (per-request penalty p50)" in (folder / "summary.md").read_text()
    assert "per-request penalty p50" in (folder / "report.html").read_text()
    case = ET.parse(folder / "junit.xml").getroot().find("testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["failover_time_s"] == "6.001" and props["measure"] == "per-request penalty p50"
