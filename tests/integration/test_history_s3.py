"""The game days' history through S3: a standalone localcloud (`python -m localcloud serve`) is the account, as a
run's own localcloud is gone when the run ends. Written by `gameday run --history s3://…`, read back by
`gameday report --history s3://… --endpoint-url …`; parallel writers lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.reports.history_store import FileHistory, KeptLocally, S3History, open_history

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
BUCKET = "team-gamedays"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    env = {**os.environ, **CREDENTIALS}
    proc = subprocess.Popen([sys.executable, "-m", "localcloud", "serve", "--profile", "fast"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] is True
        s3 = boto3.client("s3", endpoint_url=ready["endpoint_url"], region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        yield str(ready["endpoint_url"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def line(run_id: str, started_at: float, seconds: float, stack: str = "eip-self-healing") -> dict[str, Any]:
    return {"run_id": run_id, "backend": "localcloud", "profile": "fast", "started_at": started_at,
            "passed": True, "status": "passed",
            "scenarios": [{"stack": stack, "scenario": "terminate-instance", "verdict": "passed",
                           "failover_time_s": seconds, "budget_s": 25.0, "phases": {}}]}


def store(endpoint: str, prefix: str) -> S3History:
    found = open_history(f"s3://{BUCKET}/{prefix}", Path("unused"), endpoint_url=endpoint, region=REGION)
    assert isinstance(found, S3History)
    return found


def test_parallel_writers_lose_no_line_and_lines_come_back_in_time_order(endpoint: str) -> None:
    history = store(endpoint, "matrix")
    lines = [line(f"run-{i:02d}", 1000.0 - i, 10.0 + i, stack=f"stack-{i % 4}") for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:  # a CI matrix: one job per stack, all at once
        list(pool.map(history.append, lines))
    read = history.read()
    assert [x["run_id"] for x in read] == [f"run-{i:02d}" for i in reversed(range(12))]
    assert store(endpoint, "other").read() == []  # a prefix is its own history


def test_the_same_run_id_twice_keeps_both_lines(endpoint: str) -> None:
    history = store(endpoint, "rerun")
    history.append(line("run-a", 1.0, 10.0))
    history.append(line("run-a", 2.0, 11.0))
    assert [x["failover_time_s"] for y in history.read() for x in y["scenarios"]] == [10.0, 11.0]


def test_a_damaged_object_costs_its_own_line_only(endpoint: str) -> None:
    history = store(endpoint, "damaged")
    history.append(line("run-ok", 1.0, 10.0))
    history.client.put_object(Bucket=BUCKET, Key="damaged/run-torn.json", Body=b'{"run_id": "run-to')
    assert [x["run_id"] for x in history.read()] == ["run-ok"]


def test_a_missing_bucket_keeps_the_line_locally_and_says_so(endpoint: str, tmp_path: Path) -> None:
    said: list[str] = []
    missing = open_history("s3://no-such-bucket/h", Path("unused"), endpoint_url=endpoint, region=REGION)
    kept = KeptLocally(missing, FileHistory(tmp_path / "history.jsonl"), said.append)
    assert kept.read() == []
    kept.append(line("run-x", 1.0, 10.0))
    assert [x["run_id"] for x in FileHistory(tmp_path / "history.jsonl").read()] == ["run-x"]
    assert "NoSuchBucket" in said[0] and "history line kept in" in said[1]


def gameday(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **CREDENTIALS, **(env or {})}, timeout=timeout)


def test_gameday_report_reads_the_s3_history_and_calls_out_a_regression(endpoint: str, tmp_path: Path) -> None:
    history = store(endpoint, "trend")
    for i, seconds in enumerate((10.0, 10.4, 9.8, 16.0)):
        history.append(line(f"20261201-10000{i}-ab1{i}", 100.0 + i, seconds))
    done = gameday("report", "--report-dir", str(tmp_path), "--history", f"s3://{BUCKET}/trend",
                   "--endpoint-url", endpoint, "--region", REGION, "--fail-on-regression")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"4 completed run(s) of 4 in s3://{BUCKET}/trend/" in done.stdout
    assert "eip-self-healing/terminate-instance: 16.00 s vs 10.00 s median of the last 3 run(s)" in done.stdout
    assert "REGRESSION" in done.stdout


def test_gameday_run_refuses_a_history_it_cannot_reach_before_anything_starts(endpoint: str, tmp_path: Path) -> None:
    done = gameday("run", "--stack", "origin-group", "--report-dir", str(tmp_path), "--history",
                   "s3://no-such-bucket/h", "--endpoint-url", endpoint)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("gameday run: error: --history s3://no-such-bucket/h/: reading history at")
    assert "NoSuchBucket" in done.stderr and done.stderr.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_gameday_run_appends_to_the_s3_history_gates_on_p50_and_fills_the_step_summary(
        endpoint: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate.toml"
    # p50 of two attempts: one attempt slowed by a busy shared host does not fail the test, and the gate shows.
    gate.write_text(f'extends = "{ROOT / "gameday.toml"}"\n[gate]\nstatistic = "p50"\nmin_repeat = 2\n')
    summary = tmp_path / "step-summary.md"
    reports = tmp_path / "reports"
    # origin-group's unreachable primary: a failover time of its own (attempts x timeout) and no instance to boot.
    done = gameday("run", "--stack", "origin-group", "-k", "region-unreachable", "--repeat", "2", "--budgets",
                   str(gate), "--report-dir", str(reports), "--run-id", "s3-history", "--history",
                   f"s3://{BUCKET}/runs", "--endpoint-url", endpoint, "--region", REGION,
                   env={"GITHUB_STEP_SUMMARY": str(summary)}, timeout=600)
    report = json.loads((reports / "s3-history" / "report.json").read_text())
    verdicts = [(s["verdict"], s["measured_s"], s["message"]) for s in report["scenarios"]]
    assert done.returncode == 0, (verdicts, done.stderr[-3000:])
    [kept] = store(endpoint, "runs").read()
    assert kept["run_id"] == "s3-history" and kept["status"] == "passed", verdicts
    assert [(s["scenario"], s["attempts"]) for s in kept["scenarios"]] == [("region-unreachable", 2)]
    assert not (reports / "history.jsonl").exists()  # the history is in S3, not beside the reports
    assert report["gate"]["statistic"] == "p50" and report["gate"]["passed"] is True
    step = summary.read_text()
    assert "Release gate: p50 of the failover time against the budget" in step
    assert "| origin-group/region-unreachable | p50 |" in step
    assert "gate PASSED origin-group/region-unreachable: p50" in done.stderr
    later = gameday("report", "--report-dir", str(reports), "--history", f"s3://{BUCKET}/runs", "--endpoint-url",
                    endpoint, "--region", REGION)
    assert later.returncode == 0 and "origin-group/region-unreachable" in later.stdout, later.stdout + later.stderr
