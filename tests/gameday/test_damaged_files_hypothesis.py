"""Property-based: every reader of a file gameday did not necessarily write (report, timeline, journal,
history) returns typed data or raises ConfigError, whatever the bytes or the JSON value; history never raises."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.cli.analyze import read_timeline
from gameday.cli.report import read_report
from gameday.errors import ConfigError
from gameday.faults.journal import JournalEntry, RollbackJournal
from gameday.jsonfile import MAX_DEPTH, loads
from gameday.reports.history import read_history, trends
from gameday.timeline import Timeline

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# Values shaped like our files, so the checks past "is it an object" are reached too.
journal_like = st.fixed_dictionaries({"op": st.sampled_from(["record", "reverted", "failed", "moot", "x"]),
                                      "id": st.text(max_size=3) | scalars},
                                     optional={"fault": scalars, "target": scalars, "backend": json_values,
                                               "revert": st.fixed_dictionaries({}, optional={
                                                   "kind": scalars, "params": json_values}),
                                               "at": scalars, "description": scalars, "error": scalars})
report_like = st.fixed_dictionaries({"schema": st.just(2) | scalars},
                                    optional={"run_id": st.just("run-1") | scalars, "backend": scalars,
                                              "profile": scalars, "started_at": scalars, "ended_at": scalars,
                                              "scenarios": st.lists(json_values, max_size=3) | scalars})
timeline_like = st.fixed_dictionaries({"schema": st.just(1) | scalars},
                                      optional={"run_id": scalars, "origin_at": scalars, "labels": json_values,
                                                "samples": st.lists(json_values, max_size=3) | scalars,
                                                "events": st.lists(json_values, max_size=3) | scalars})
history_like = st.fixed_dictionaries({"run_id": st.just("r") | scalars, "backend": st.just("localcloud"),
                                      "profile": st.just("fast"), "started_at": scalars,
                                      "scenarios": st.lists(st.fixed_dictionaries(
                                          {"stack": st.just("s"), "scenario": st.just("x")},
                                          optional={"verdict": st.sampled_from(["passed", "failed", "error"]) | scalars,
                                                    "failover_time_s": scalars, "budget_s": scalars,
                                                    "predicted_s": scalars, "phases": json_values}), max_size=2)},
                                     optional={"status": st.sampled_from(["passed", "interrupted"]) | scalars})


@contextmanager
def written(content: bytes) -> Iterator[Path]:
    # Not tmp_path: hypothesis runs many examples per test call, each needs its own file.
    with tempfile.TemporaryDirectory(prefix="gameday-hyp-") as folder:
        path = Path(folder) / "file.json"
        path.write_bytes(content)
        yield path


def _dumped(value: Any) -> bytes:
    return json.dumps(value).encode()


@SETTINGS
@given(st.text(max_size=200))
def test_loads_returns_bounded_json_or_config_error(text: str) -> None:
    try:
        loads(text, "x")
    except ConfigError as exc:
        assert str(exc).startswith("x: ")


@SETTINGS
@given(st.integers(min_value=MAX_DEPTH + 1, max_value=200_000))
def test_deep_nesting_is_a_config_error(depth: int) -> None:
    try:
        loads("[" * depth + "]" * depth, "x")
    except ConfigError as exc:
        assert "nested deeper" in str(exc)
    else:
        raise AssertionError("deep nesting was read")


@SETTINGS
@given(st.binary(max_size=300) | journal_like.map(_dumped) | json_values.map(_dumped))
def test_a_journal_reads_into_entries_or_a_config_error(content: bytes) -> None:
    with written(content) as path:
        try:
            entries = RollbackJournal(path).entries()
        except ConfigError as exc:
            assert f"journal {path} line " in str(exc) or str(path) in str(exc)
            return
        assert all(isinstance(e, JournalEntry) and isinstance(e.revert_params, dict) for e in entries)


@SETTINGS
@given(st.binary(max_size=300) | report_like.map(_dumped) | json_values.map(_dumped))
def test_a_report_reads_into_shape_or_a_config_error(content: bytes) -> None:
    with written(content) as path:
        try:
            data = read_report(path)
        except ConfigError as exc:
            assert str(path) in str(exc)
            return
        assert isinstance(data["scenarios"], list) and math.isfinite(data["started_at"])


@SETTINGS
@given(st.binary(max_size=300) | timeline_like.map(_dumped) | json_values.map(_dumped))
def test_a_timeline_reads_typed_or_a_config_error(content: bytes) -> None:
    with written(content) as path:
        try:
            timeline = read_timeline(path)
        except ConfigError as exc:
            assert str(path) in str(exc)
            return
        assert isinstance(timeline, Timeline) and math.isfinite(timeline.origin_at)


@SETTINGS
@given(st.lists(st.binary(max_size=60) | history_like.map(_dumped) | json_values.map(_dumped), max_size=6))
def test_history_reads_and_trends_whatever_the_lines(lines: list[bytes]) -> None:
    with written(b"\n".join(lines)) as path:
        history = read_history(path)
        found = trends(history)

        assert all(isinstance(line, dict) for line in history)
        assert all(p.failover_time_s is None or math.isfinite(p.failover_time_s) for t in found for p in t.points)
