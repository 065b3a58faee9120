"""The timeline schema: what is written is what is read back, old and newer files included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.clock import FakeClock
from gameday.timeline import SCHEMA_VERSION, Event, Outcome, Sample, Timeline


def sample(**overrides: object) -> Sample:
    fields: dict[str, object] = dict(
        probe="http:eip", kind="http_keepalive", target="http://127.0.0.5/", seq=3, scheduled_mono=0.3,
        sent_mono=0.3004, sent_at=1_700_000_000.123456, outcome=Outcome.OK, latency_s=0.0021, status=200,
        served_by="i-1", peer="127.0.0.5:80", connect_s=0.0004, reused=True)
    fields.update(overrides)
    return Sample(**fields)  # type: ignore[arg-type]


def test_begin_takes_the_origin_from_the_clock() -> None:
    clock = FakeClock(start_at=1_000.0)
    clock.advance(5.0)
    timeline = Timeline.begin("run-1", clock, labels={"backend": "localcloud"})
    assert (timeline.origin_at, timeline.origin_mono, timeline.labels) == (1_005.0, 5.0, {"backend": "localcloud"})


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    timeline = Timeline.begin("run-1", FakeClock())
    timeline.add_samples([sample(), sample(seq=4, outcome=Outcome.CONNECT_TIMEOUT, latency_s=None, status=None,
                                           served_by=None, reused=False)])
    timeline.add_sample(sample(probe="dns:auth", kind="dns", answers=("10.0.0.2", "10.0.0.1"), ttl=30))
    timeline.add_event(Event(1_700_000_001.0, "fault.inject", "gameday", "i-1", {"fault": "terminate"}))
    path = tmp_path / "timeline.json"

    timeline.write(path)
    reread = Timeline.read(path)

    assert reread.samples == timeline.samples and reread.events == timeline.events
    assert json.loads(path.read_text())["schema"] == SCHEMA_VERSION


def test_sample_written_before_the_new_fields_still_reads() -> None:
    data = Timeline.begin("old", FakeClock()).to_dict()
    old = {k: v for k, v in _dict(sample()).items() if k not in ("connect_s", "reused")}
    data["samples"] = [dict(old, outcome="refused")]

    (reread,) = Timeline.from_dict(data).samples

    assert reread.outcome is Outcome.REFUSED and reread.connect_s is None and reread.reused is None


def test_unknown_sample_keys_from_a_newer_writer_are_ignored() -> None:
    data = Timeline.begin("new", FakeClock()).to_dict()
    data["samples"] = [{**_dict(sample()), "some_future_field": 1}]

    (reread,) = Timeline.from_dict(data).samples

    assert reread == sample()


def test_wrong_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported timeline schema"):
        Timeline.from_dict({"schema": 999, "run_id": "x", "origin_at": 0})


def test_sample_helpers() -> None:
    late = sample(scheduled_mono=1.0, sent_mono=1.0025)
    assert late.lateness_s == pytest.approx(0.0025) and late.at == late.sent_at and late.good
    assert not Outcome.CONNECT_TIMEOUT.good


def _dict(s: Sample) -> dict[str, object]:
    timeline = Timeline.begin("x", FakeClock())
    timeline.add_sample(s)
    return dict(timeline.to_dict()["samples"][0])
