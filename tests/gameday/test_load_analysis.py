"""gameday.load.merge and .analysis: JSON-lines records onto the timeline, then per-second rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.load.analysis import compare_load_and_probes, load_per_second
from gameday.load.merge import merge_records
from gameday.load.records import LoadRecord
from gameday.timeline import Outcome, Sample, Timeline

ORIGIN = 1_700_000_000.0


def _timeline() -> Timeline:
    return Timeline("run", origin_at=ORIGIN, origin_mono=0.0)


def _ok(at: float, latency: float = 0.002, client: str = "KeepAliveClient") -> LoadRecord:
    return LoadRecord(at, latency, Outcome.OK, "root", client, 200, "i-a")


def _refused(at: float, client: str = "KeepAliveClient") -> LoadRecord:
    return LoadRecord(at, 0.0004, Outcome.REFUSED, "root", client, detail="ConnectionRefusedError: refused")


def _write(folder: Path, name: str, records: list[LoadRecord]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(r.to_json() + "\n" for r in records))


def _probe(seq: int, at: float, outcome: Outcome) -> Sample:
    return Sample("http:eip", "http", "http://127.0.0.5/", seq, at - ORIGIN, at - ORIGIN, at, outcome,
                  0.001 if outcome is Outcome.OK else None)


def test_records_of_every_process_land_on_the_timeline_as_load_samples(tmp_path: Path) -> None:
    timeline = _timeline()
    _write(tmp_path, "host-1.jsonl", [_ok(ORIGIN + 0.5), _refused(ORIGIN + 1.5)])
    _write(tmp_path, "host-2.jsonl", [_ok(ORIGIN + 0.2, client="FreshConnectionClient")])

    summary = merge_records(timeline, tmp_path, target="http://127.0.0.5/")

    assert (summary.files, summary.records, summary.malformed) == (2, 3, 0)
    assert timeline.probes() == ["load:root/fresh", "load:root/keepalive"]
    keepalive = timeline.samples_of("load:root/keepalive")
    assert [(s.seq, s.kind, s.outcome, s.served_by) for s in keepalive] == [
        (0, "load", Outcome.OK, "i-a"), (1, "load", Outcome.REFUSED, None)]
    assert keepalive[0].sent_mono == pytest.approx(0.5) and keepalive[0].lateness_s == 0.0
    assert keepalive[1].latency_s is None and "after 0.000 s" in keepalive[1].detail


def test_per_second_rows_show_the_outage_and_nothing_before_it() -> None:
    timeline = _timeline()
    records = [_ok(ORIGIN + s + i / 10, latency=0.001 * (i + 1)) for s in (0, 1) for i in range(10)]
    records += [_refused(ORIGIN + 2 + i / 10) for i in range(10)]
    records += [_ok(ORIGIN + 5 + i / 10) for i in range(10)]  # nothing sent in seconds 3 and 4
    from gameday.load.merge import to_samples

    timeline.add_samples(to_samples(records, timeline, "http://127.0.0.5/"))
    rows = load_per_second(timeline)

    assert [r.second for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r.errors for r in rows] == [0, 0, 10, 0, 0, 0]
    assert [r.requests for r in rows] == [10, 10, 10, 0, 0, 10]
    assert rows[2].errors_by_outcome == (("refused", 10),) and rows[2].error_rate == 1.0
    assert rows[2].p50_ms is None  # nothing answered
    assert (rows[0].p50_ms, rows[0].p99_ms) == (5.0, 10.0)
    assert rows[0].to_dict()["served_by"] == {"i-a": 10}


def test_load_and_probe_errors_are_compared_over_the_same_window() -> None:
    timeline = _timeline()
    from gameday.load.merge import to_samples

    timeline.add_samples(to_samples([_ok(ORIGIN + 1), _refused(ORIGIN + 2.0), _refused(ORIGIN + 3.5),
                                     _refused(ORIGIN + 9.0)], timeline, "http://127.0.0.5/"))
    timeline.add_samples([_probe(0, ORIGIN + 1.8, Outcome.CONNECT_TIMEOUT), _probe(1, ORIGIN + 3.0, Outcome.OK)])

    result = compare_load_and_probes(timeline, window=(ORIGIN + 1.5, ORIGIN + 4.0))

    assert (result.load.requests, result.load.errors, result.load.errors_in_window) == (4, 3, 2)
    assert result.load.errors_outside_window == 1
    assert (result.probes.requests, result.probes.errors) == (2, 1)
    assert result.first_error_gap_s == pytest.approx(0.2)
    assert result.last_error_gap_s == pytest.approx(7.2)
    assert result.to_dict()["load"]["errors_by_outcome"] == {"refused": 3}


def test_no_load_means_no_rows() -> None:
    assert load_per_second(_timeline()) == []
