"""Where the history is kept: a file at a PATH or an S3 prefix named by URL (the S3 round trip itself is
tests/integration/test_history_s3.py, against a localcloud)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.errors import ConfigError
from gameday.reports.history_store import FileHistory, S3History, check_history, open_history


def line(run_id: str, started_at: float, seconds: float) -> dict[str, Any]:
    return {"run_id": run_id, "backend": "localcloud", "profile": "fast", "started_at": started_at,
            "passed": True, "status": "passed",
            "scenarios": [{"stack": "eip-self-healing", "scenario": "terminate-instance", "verdict": "passed",
                           "failover_time_s": seconds, "budget_s": 25.0, "phases": {}}]}


def test_a_file_history_round_trips_in_order(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "h.jsonl"), tmp_path / "default.jsonl")
    store.append(line("r1", 1.0, 10.0))
    store.append(line("r2", 2.0, float("nan")))  # no number is null, never NaN
    read = store.read()
    assert [x["run_id"] for x in read] == ["r1", "r2"]
    assert read[1]["scenarios"][0]["failover_time_s"] is None
    assert not (tmp_path / "default.jsonl").exists()


def test_no_history_option_is_the_default_file(tmp_path: Path) -> None:
    store = open_history(None, tmp_path / "history.jsonl")
    assert store == FileHistory(tmp_path / "history.jsonl")
    assert open_history("", tmp_path / "history.jsonl") == store  # `gameday report --history` bare


def test_an_s3_url_names_bucket_and_prefix() -> None:
    store = open_history("s3://team-gamedays/prod/history/", Path("unused"), endpoint_url="http://127.0.0.1:1",
                         region="eu-west-1")
    assert isinstance(store, S3History)
    assert (store.bucket, store.prefix, store.where) == ("team-gamedays", "prod/history/",
                                                         "s3://team-gamedays/prod/history/")
    bare = open_history("s3://team-gamedays", Path("unused"), endpoint_url="http://127.0.0.1:1")
    assert isinstance(bare, S3History) and bare.prefix == ""


@pytest.mark.parametrize(("spec", "said"), [
    ("s3://", "expected s3://BUCKET/PREFIX"),
    ("s3://UPPER/x", "expected s3://BUCKET/PREFIX"),
    ("s3://b/x y", "expected s3://BUCKET/PREFIX"),
])
def test_a_malformed_s3_url_is_one_config_error(spec: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_history(spec)
    assert said in str(caught.value)


def test_a_history_path_in_a_missing_folder_or_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        check_history(str(tmp_path / "nowhere" / "h.jsonl"))
    with pytest.raises(ConfigError, match="expected a file"):
        check_history(str(tmp_path))


def test_gameday_report_reads_a_history_at_a_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gameday.cli import main

    path = tmp_path / "team-history.jsonl"
    history = open_history(str(path), tmp_path / "unused.jsonl")
    for i, seconds in enumerate((10.0, 10.2, 9.9)):
        history.append(line(f"run-{i}", float(i), seconds))

    assert main(["report", "--report-dir", str(tmp_path / "elsewhere"), "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"3 completed run(s) of 3 in {path}" in out and "steady" in out
