"""A long run's timeline spools to disk: memory bounded, nothing lost, read back the same, by every reader."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import gameday.timeline as timeline_module
from gameday.analysis import analyze
from gameday.load.merge import merge_records
from gameday.load.records import LoadRecord
from gameday.reports.run import RunReport, write_outputs
from gameday.scenario import ScenarioResult, Verdict
from gameday.timeline import Event, Outcome, Sample, Timeline

ROOT = Path(__file__).resolve().parents[2]
START = 1_800_000_000.0
FAULT_AT = START + 30.0


def sample(probe: str, seq: int, *, kind: str = "http", rate: float = 10.0, bad: bool = False) -> Sample:
    at = seq / rate
    if kind == "dns":
        return Sample(probe, kind, "svc/A@ns", seq, at, at + 0.0003, START + at + 0.0003, Outcome.OK, 0.0004,
                      answers=("10.0.0.2",) if START + at >= FAULT_AT + 2 else ("10.0.0.1",), ttl=10)
    if bad:
        return Sample(probe, kind, "http://svc/", seq, at, at + 0.001, START + at + 0.001, Outcome.TIMEOUT, None,
                      peer="10.0.0.1:80", detail="read timed out")
    return Sample(probe, kind, "http://svc/", seq, at, at + 0.001, START + at + 0.001, Outcome.OK, 0.0021 + seq * 1e-7,
                  status=200, served_by=f"i-{seq % 3}", peer="10.0.0.1:80", connect_s=0.0004, reused=seq % 2 == 0)


def run_of(n: int) -> list[Sample]:
    """`n` samples a probe, two probes, an outage of 5 s from the fault (samples completing out of order)."""
    samples = []
    for seq in range(n):
        broken = FAULT_AT <= START + seq / 10 < FAULT_AT + 5
        samples += [sample("http:client", seq, bad=broken), sample("dns:auth", seq, kind="dns")]
    for i in range(0, len(samples) - 1, 7):  # a concurrent probe's answers arrive out of order
        samples[i], samples[i + 1] = samples[i + 1], samples[i]
    return samples


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline_module, "SPILL_AT", 500)
    monkeypatch.setattr(timeline_module, "KEEP", 200)
    monkeypatch.setattr(timeline_module, "CHUNK", 64)


def spooled_timeline(samples: list[Sample]) -> Timeline:
    timeline = Timeline("run-1", START, 0.0, labels={"backend": "localcloud", "profile": "fast"})
    for s in samples:
        timeline.add_sample(s)
    timeline.add_event(Event(FAULT_AT, "fault.inject", "gameday", "i-1", {"fault": "terminate"}))
    return timeline


def test_memory_stays_bounded_and_every_sample_is_on_disk(small_bounds: None) -> None:
    samples = run_of(2_000)
    timeline = spooled_timeline(samples)
    try:
        assert timeline.spooled and len(timeline.samples) <= 500
        assert list(timeline.iter_samples()) == samples
        assert timeline.sample_count == 4_000 and timeline.probes() == ["dns:auth", "http:client"]
        assert timeline.stats()["http:client"].errors == 50
        client = timeline.samples_of("http:client")
        assert [s.seq for s in client] == list(range(2_000))
        assert [s.seq for s in timeline.recent_of("http:client", START + 199.0)] == list(range(1_990, 2_000))
    finally:
        timeline.close()


def test_a_spooled_timeline_analyses_as_the_same_one_in_memory(small_bounds: None, tmp_path: Path) -> None:
    samples = run_of(2_000)
    spooled = spooled_timeline(samples)
    in_memory = Timeline("run-1", START, 0.0)
    in_memory.samples = list(samples)  # the same samples, never spooled
    in_memory._stats = spooled.stats()
    in_memory.add_event(Event(FAULT_AT, "fault.inject", "gameday", "i-1", {"fault": "terminate"}))
    try:
        on_disk = analyze(spooled, fault_at=FAULT_AT, dns_target=["10.0.0.2"])
        held = analyze(in_memory, fault_at=FAULT_AT, dns_target=["10.0.0.2"])
    finally:
        spooled.close()
    assert on_disk == held
    assert on_disk.failover_time_s == pytest.approx(5.0, abs=0.11)
    assert on_disk.dns[0].all_since_fault_s == pytest.approx(2.0, abs=0.11)


def test_the_raw_file_reads_back_exactly(small_bounds: None, tmp_path: Path) -> None:
    timeline = spooled_timeline(run_of(600))
    path = tmp_path / "timelines" / "run.jsonl.gz"
    try:
        timeline.write_raw(path)
        reread = Timeline.read(path)
        assert list(reread.iter_samples()) == list(timeline.iter_samples())
        assert reread.events == timeline.events and reread.labels == timeline.labels
        assert reread.stats() == timeline.stats()
    finally:
        timeline.close()
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert json.loads(lines[0])["format"] == "gameday-timeline-jsonl" and lines[-1].startswith('["e",')


def test_a_short_run_never_touches_the_disk(tmp_path: Path) -> None:
    timeline = spooled_timeline(run_of(300))
    assert not timeline.spooled and timeline._spool is None and len(timeline.samples) == 600
    path = tmp_path / "t.jsonl.gz"
    timeline.write_raw(path)
    assert list(Timeline.read(path).iter_samples()) == timeline.samples


def test_its_own_spool_leaves_no_file_behind_even_while_in_use(small_bounds: None) -> None:
    timeline = spooled_timeline(run_of(600))
    assert timeline._spool is not None and timeline.spooled
    assert not timeline._spool.path.exists()  # unlinked at once: a killed runner leaves nothing in TMPDIR
    assert len(timeline.samples_of("http:client")) == 600
    timeline.close()


def test_a_torn_last_chunk_loses_that_chunk_only(small_bounds: None, tmp_path: Path) -> None:
    timeline = spooled_timeline(run_of(600))
    whole = tmp_path / "whole.jsonl.gz"
    timeline.write_raw(whole)
    timeline.close()
    torn = tmp_path / "torn.jsonl.gz"
    torn.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])  # a killed writer
    kept = list(Timeline.read(torn).iter_samples())
    assert 0 < len(kept) < 1_200 and kept == list(Timeline.read(whole).iter_samples())[: len(kept)]


def test_load_records_merge_in_send_order_streamed(small_bounds: None, tmp_path: Path) -> None:
    records = [LoadRecord(START + i * 0.02, 0.5 if i % 5 == 0 else 0.01, Outcome.OK, "root", "KeepAliveClient",
                          status=200) for i in range(1_000)]
    # each locust process writes a request when it ends: a slow one lands after later ones
    for n, part in enumerate((records[0::2], records[1::2])):
        done = sorted(part, key=lambda r: r.sent_at + r.elapsed_s)
        (tmp_path / f"locust-{n}.jsonl").write_text("".join(r.to_json() + "\n" for r in done) + '{"torn')
    timeline = Timeline("run-1", START, 0.0)
    try:
        summary = merge_records(timeline, tmp_path, target="http://svc/")
        load = timeline.samples_of("load:root/keepalive")
    finally:
        timeline.close()
    assert (summary.files, summary.records, summary.malformed) == (2, 1_000, 2)
    assert [s.sent_at for s in load] == sorted(r.sent_at for r in records)
    assert [s.seq for s in load] == list(range(1_000))


def test_report_json_points_to_the_raw_timeline(small_bounds: None, tmp_path: Path) -> None:
    timeline = spooled_timeline(run_of(600))
    failover = analyze(timeline, fault_at=FAULT_AT)
    result = ScenarioResult(stack_id="eip-self-healing", scenario="terminate-instance", fault="terminate-instance",
                            target="i-1", backend="localcloud", profile="fast", budget_s=30.0, fault_at=FAULT_AT,
                            failover=failover, prediction=None, verdict=Verdict.PASSED, message="ok",
                            timeline=timeline)
    report = RunReport("run-1", "localcloud", "fast", started_at=START, ended_at=START + 60)
    report.scenarios.append(result)
    folder = tmp_path / "run-1"
    try:
        write_outputs(report.to_dict(folder), tmp_path, history=False, pdf=False)
    finally:
        timeline.close()
    [scenario] = json.loads((folder / "report.json").read_text())["scenarios"]
    pointer = scenario["timeline"]
    assert pointer["file"] == "timelines/eip-self-healing.terminate-instance.1.jsonl.gz"
    assert "samples" not in pointer and pointer["sample_count"] == 1_200
    assert pointer["probes"]["http:client"] == {"kind": "http", "target": "http://svc/", "samples": 600,
                                                "errors": 50}
    assert [e["kind"] for e in pointer["events"]] == ["fault.inject"]
    assert Timeline.read(folder / pointer["file"]).sample_count == 1_200
    assert "http:client" in (folder / "report.html").read_text()  # its lane, drawn from the chart


def test_gameday_analyze_reads_a_raw_timeline_from_a_shell(small_bounds: None, tmp_path: Path) -> None:
    timeline = spooled_timeline(run_of(600))
    path = tmp_path / "run.jsonl.gz"
    timeline.write_raw(path)
    timeline.close()
    done = subprocess.run([sys.executable, "-m", "gameday", "analyze", str(path), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["failover_time_s"] == pytest.approx(5.0, abs=0.11)

    path.write_bytes(path.read_bytes()[:12])
    broken = subprocess.run([sys.executable, "-m", "gameday", "analyze", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert "is not a timeline file" in broken.stderr


def test_the_spill_is_spread_over_the_following_adds(small_bounds: None) -> None:
    samples = run_of(400)
    timeline = Timeline("run-1", START, 0.0)
    try:
        timeline.add_samples(samples[:500])  # SPILL_AT: still all in memory
        assert timeline._spool is None
        timeline.add_sample(samples[500])  # one past it: the spool starts with a share of the backlog
        assert timeline._written == 1 + timeline_module.CATCH_UP and not timeline.spooled
        for s in samples[501:]:
            timeline.add_sample(s)
        assert timeline.spooled and list(timeline.iter_samples()) == samples  # caught up, nothing lost or doubled
    finally:
        timeline.close()
