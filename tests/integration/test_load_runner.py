"""Locust as a subprocess against a loopback target: every way a run ends leaves no locust process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.load import LoadConfig, LoadError, LoadRun, load_per_second, running
from gameday.load.procs import group_members
from gameday.load.runner import supervised, worker_command
from gameday.load.target import LoopbackTarget
from gameday.timeline import Outcome, Timeline

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

QUICK = LoadConfig(users=4, rate=40.0, duration_s=60.0, stop_grace_s=8.0)


def processes_mentioning(text: str) -> list[int]:
    """Every live process whose command line mentions `text` (our report folder): the leak check."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    if "Z" not in (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]:
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _timeline() -> Timeline:
    return Timeline("itest", time.time(), time.monotonic())


@pytest.fixture
def target() -> Iterator[LoopbackTarget]:
    with LoopbackTarget(served_by="i-0123") as serving:
        yield serving


def test_steady_load_with_two_processes_stops_cleanly_and_keeps_its_files(target: LoopbackTarget,
                                                                         tmp_path: Path) -> None:
    timeline = _timeline()
    with running(QUICK.with_(processes=2), target.url, tmp_path, timeline) as run:
        assert len(group_members(run.pgid)) >= 4  # supervisor, locust master, two workers
        time.sleep(1.0)

    folder = tmp_path / "load"
    assert group_members(run.pgid) == [] and processes_mentioning(str(folder)) == []
    assert {p.name for p in folder.iterdir()} >= {"records", "locust.json", "locust_stats.csv",
                                                  "locust_stats_history.csv", "locust_failures.csv",
                                                  "load.json", "locust.log"}
    assert len(list((folder / "records").glob("*.jsonl"))) == 3  # master (events) and two workers
    samples = [s for s in timeline.samples if s.kind == "load"]
    stats = json.loads((folder / "locust.json").read_text())
    assert sum(entry["num_requests"] for entry in stats) == len(samples) > 20
    assert {s.served_by for s in samples} == {"i-0123"} and all(s.good for s in samples)
    stop = timeline.events_of("load.stop")[0]
    assert (stop.detail["ended"], stop.detail["exit_code"], stop.detail["leftover"]) == ("stopped", 0, [])
    assert [e.detail["users"] for e in timeline.events_of("load.users")] == [4]
    # the user mix: three users hold one connection each, the fourth connects anew for every request
    fresh = len(timeline.samples_of("load:root/fresh"))
    assert fresh > 0 and len(timeline.samples_of("load:root/keepalive")) > 2 * fresh
    assert fresh <= target.accepted <= fresh + 3 + 2


def test_per_second_rows_show_errors_in_a_scripted_outage_and_none_before(target: LoopbackTarget,
                                                                           tmp_path: Path) -> None:
    timeline = _timeline()
    with running(QUICK, target.url, tmp_path, timeline):
        time.sleep(2.5)
        outage_from = time.time()
        target.set_mode("refuse")
        time.sleep(2.0)
        target.set_mode("ok")
        outage_to = time.time()
        time.sleep(2.5)

    rows = load_per_second(timeline)
    before = [r for r in rows if r.at + 1 <= outage_from]
    during = [r for r in rows if r.at >= outage_from and r.at + 1 <= outage_to]
    after = [r for r in rows if r.at >= outage_to + 0.5]
    assert before and during and after
    assert all(r.errors == 0 and r.requests > 0 for r in before)
    assert all(r.errors == r.requests > 0 and dict(r.errors_by_outcome).keys() <= {"refused", "reset"}
               for r in during)
    assert all(r.errors == 0 for r in after)


def test_a_black_hole_shows_connect_timeouts_and_hung_keepalive_requests(target: LoopbackTarget,
                                                                          tmp_path: Path) -> None:
    timeline = _timeline()
    config = QUICK.with_(users=8, connect_timeout_s=0.5, timeout_s=1.0)
    with running(config, target.url, tmp_path, timeline):
        time.sleep(1.0)
        target.set_mode("blackhole")
        time.sleep(3.0)
        target.set_mode("ok")
        time.sleep(1.5)

    outcomes = {(s.probe, s.outcome) for s in timeline.samples if not s.good}
    assert ("load:root/fresh", Outcome.CONNECT_TIMEOUT) in outcomes
    assert ("load:root/keepalive", Outcome.TIMEOUT) in outcomes


def test_an_exception_in_the_scenario_still_stops_the_load(target: LoopbackTarget, tmp_path: Path) -> None:
    timeline = _timeline()
    with pytest.raises(RuntimeError, match="scenario broke"):
        with running(QUICK, target.url, tmp_path, timeline) as run:
            raise RuntimeError("scenario broke")

    assert group_members(run.pgid) == [] and processes_mentioning(str(tmp_path)) == []
    assert timeline.events_of("load.stop")


def test_the_shape_ends_the_run_by_itself(target: LoopbackTarget, tmp_path: Path) -> None:
    run = LoadRun(QUICK.with_(duration_s=2.0), target.url, tmp_path / "load")
    with run:
        run.wait_ready()
        assert run.wait(timeout_s=30.0)
    result = run.stop()
    assert (result.ended, result.exit_code, result.leftover) == ("finished", 0, ())


def test_the_request_budget_bounds_the_count(target: LoopbackTarget, tmp_path: Path) -> None:
    timeline = _timeline()
    with running(QUICK.with_(rate=None, max_requests=30), target.url, tmp_path, timeline):
        time.sleep(2.0)
    assert len(timeline.samples) == 30
    assert timeline.events_of("load.budget_exhausted")


def test_10x_steps_the_users_and_the_request_rate(target: LoopbackTarget, tmp_path: Path) -> None:
    timeline = _timeline()
    config = LoadConfig.for_shape("10x", users=2, rate=10.0, step_at_s=3.0, duration_s=60.0)
    with running(config, target.url, tmp_path, timeline):
        time.sleep(6.0)

    assert [e.detail["users"] for e in timeline.events_of("load.users")] == [2, 20]
    rows = load_per_second(timeline)
    assert rows[-2].requests >= 5 * max(r.requests for r in rows[1:3])


def test_a_dead_locust_is_reported_with_its_output(target: LoopbackTarget, tmp_path: Path) -> None:
    run = LoadRun(QUICK, target.url, tmp_path / "load",
                  command=[sys.executable, "-c", "import sys; print('locust exploded'); sys.exit(3)"])
    run.start()
    with pytest.raises(LoadError, match="locust exploded"):
        run.wait_ready(timeout_s=10)
    assert run.stop().exit_code == 3


def test_master_with_a_worker_from_another_host(target: LoopbackTarget, tmp_path: Path) -> None:
    """Two hosts, played on loopback: the worker joins the master the documented way (--worker)."""
    timeline = _timeline()
    config = QUICK.with_(expect_workers=1)
    folder = tmp_path / "load"
    run = LoadRun(config, target.url, folder)
    command = worker_command(config, target.url, "127.0.0.1", run.master_port, folder / "records")
    with (tmp_path / "worker.log").open("ab") as output:
        worker = supervised(command, deadline_s=60, grace_s=5, nice=0, output=output)
    try:
        with run:
            run.wait_ready()
            time.sleep(1.0)
        assert worker.wait(timeout=20) == 0  # the master's quit ends the worker
    finally:
        with worker:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    from gameday.load import merge_records

    summary = merge_records(timeline, folder / "records", target=target.url)
    assert summary.records > 10 and group_members(worker.pid) == [] and group_members(run.pgid) == []


CHILD = """
import sys, time
from pathlib import Path
from gameday.load import LoadConfig, running
from gameday.timeline import Timeline
config = LoadConfig(users=2, rate=20.0, duration_s=120.0, stop_grace_s=8.0)
timeline = Timeline("child", time.time(), time.monotonic())
with running(config, sys.argv[1], Path(sys.argv[2]), timeline) as run:
    print(run.pgid, flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("how", ["sigint-to-group", "sigterm", "sigkill"])
def test_no_locust_outlives_its_parent_however_the_parent_ends(target: LoopbackTarget, tmp_path: Path,
                                                               how: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with subprocess.Popen([sys.executable, "-c", CHILD, target.url, str(tmp_path)], stdout=subprocess.PIPE,
                          env=env, start_new_session=True) as parent:
        assert parent.stdout is not None
        locust_pgid = int(parent.stdout.readline())
        assert len(group_members(locust_pgid)) >= 2
        if how == "sigint-to-group":  # Ctrl-C in a terminal: the whole foreground group gets SIGINT
            os.killpg(parent.pid, signal.SIGINT)
        else:
            parent.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        parent.wait(timeout=30)

    deadline = time.monotonic() + 30
    while (group_members(locust_pgid) or processes_mentioning(str(tmp_path))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_members(locust_pgid) == []
    assert processes_mentioning(str(tmp_path)) == []
    # stopped on purpose, by the parent or by the supervisor when the parent vanished: stats were written
    assert (tmp_path / "load" / "locust.json").exists()
