"""Soak at scale: bytes per sample on disk, the runner's memory per hour, analysis and report times.

`synthetic` (default): a three-hour soak generated through the real APIs, no waiting: 4 probes at 20 Hz added
to a `Timeline` one sample at a time (as the probe threads do; it spools to disk past its memory bound), and
load at 50 requests/s written as locust's per-request JSON lines in two files (two locust processes), merged
onto the timeline at the end (`merge_records`) as a run does. A 20 s outage half an hour in. Then the
analysis, the report (report.json pointing to the raw timeline, report.html) and report.html's render time in
headless Chromium.

`real`: one real soak, `gameday run --stack static-ip-haproxy --extended -k soak --load soak --load-duration
600` on localcloud, its runner's (the pytest child's) resident memory sampled from /proc every 5 s.

Both write `benchmarks/results/soak_scale.json`, each under its own key (the other is kept).

    .venv/bin/python -m benchmarks.soak_scale [--hours 3]
    .venv/bin/python -m benchmarks.soak_scale --real [--duration 600]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS, load, machine, write_result
from gameday.analysis import analyze
from gameday.load.analysis import load_report
from gameday.load.merge import merge_records
from gameday.load.records import LoadRecord
from gameday.reports.run import RunReport, write_outputs
from gameday.scenario import ScenarioResult, Verdict
from gameday.timeline import Event, Outcome, Sample, Timeline, _sample_to_dict

NAME = "soak_scale"
PROBE_HZ = 20.0
LOAD_RPS = 50
FAULT_S = 1800.0  # the synthetic outage: half an hour in, 20 s long
OUTAGE_S = 20.0
ADDRESSES = ("10.0.1.10", "10.0.2.10", "10.0.3.10", "10.0.4.10")
TARGETS = {"html_bytes": 5 * 1024 * 1024, "render_s": 10.0}
CHROMIUM_TIMEOUT_S = 120.0


def memory() -> dict[str, float]:
    """This process's resident memory now and its peak so far (VmRSS, VmHWM), MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields["VmRSS"], "peak_mib": fields["VmHWM"]}


def synthetic(hours: float) -> dict[str, Any]:
    rng = random.Random(18)
    seconds = int(hours * 3600)
    start = time.time() - seconds - 60
    fault_at = start + FAULT_S
    labels = {"backend": "synthetic (generated through the Timeline API)", "profile": "fast",
              "stack": "static-ip-haproxy", "scenario": "soak"}
    timeline = Timeline(f"soak-synthetic-{int(hours)}h", start, 0.0, labels=labels)
    probes = [("http:client", "http", "https://svc.example.test/"), ("dns:auth", "dns", "svc.example.test/A@ns"),
              ("health:a", "health", "http://10.0.1.10:9000/health"),
              ("health:b", "health", "http://10.0.2.10:9000/health")]
    per_hour: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="soak-scale-"))
    try:
        records = [(work / "records" / f"locust-{n}.jsonl") for n in range(2)]
        records[0].parent.mkdir()
        files = [path.open("w") for path in records]
        began = time.perf_counter()
        hour_peak = 0.0
        for second in range(seconds):
            now = start + second
            broken = FAULT_S <= second < FAULT_S + OUTAGE_S
            for tick in range(int(PROBE_HZ)):
                offset = second + tick / PROBE_HZ
                seq = second * int(PROBE_HZ) + tick
                for name, kind, target in probes:
                    timeline.add_sample(_probe_sample(rng, name, kind, target, seq, offset, start, broken,
                                                      second >= FAULT_S + 10))
            for n in range(LOAD_RPS):
                sent = now + n / LOAD_RPS + rng.random() * 0.001
                ok = not broken
                record = LoadRecord(sent_at=sent, elapsed_s=rng.uniform(0.002, 0.02) if ok else 2.0,
                                    outcome=Outcome.OK if ok else Outcome.TIMEOUT, endpoint="root",
                                    client="KeepAliveClient", status=200 if ok else None,
                                    served_by=f"i-{n % 4}" if ok else None, detail="" if ok else "TimeoutError")
                files[n % 2].write(record.to_json() + "\n")
            if second == int(FAULT_S):
                timeline.add_event(Event(fault_at, "fault.inject", "gameday", "the 4 proxy groups", {"fault": "soak"}))
            if second % 60 == 59:
                hour_peak = max(hour_peak, memory()["rss_mib"])
            if second % 3600 == 3599:
                per_hour.append({"hour": second // 3600 + 1, "resident_max_mib_in_hour": hour_peak, **memory(),
                                 "held_samples": len(timeline.samples), "spooled": timeline.spooled,
                                 "elapsed_s": round(time.perf_counter() - began, 1)})
                hour_peak = 0.0
        for f in files:
            f.close()
        generated_s = time.perf_counter() - began
        probe_samples = timeline.sample_count

        began = time.perf_counter()
        merged = merge_records(timeline, records[0].parent, target="https://svc.example.test/")
        merge_s = time.perf_counter() - began
        after_merge = memory()

        began = time.perf_counter()
        failover = analyze(timeline, fault_at=fault_at, probe="http:client", stable_window_s=2.0)
        analysis_s = time.perf_counter() - began
        began = time.perf_counter()
        section = load_report(timeline, window=(fault_at, fault_at + OUTAGE_S))
        load_report_s = time.perf_counter() - began
        after_analysis = memory()

        result = ScenarioResult(
            stack_id="static-ip-haproxy", scenario="soak", fault="soak", target="the 4 proxy groups (load only)",
            backend=labels["backend"], profile="fast", budget_s=30.0, fault_at=fault_at, failover=failover,
            prediction=None, verdict=Verdict.PASSED, message=f"synthetic {hours:g} h soak", timeline=timeline)
        report = RunReport(timeline.run_id, labels["backend"], "fast", started_at=start, ended_at=start + seconds)
        report.scenarios.append(result)
        reports_dir = work / "reports"
        folder = reports_dir / report.run_id
        began = time.perf_counter()
        data = report.to_dict(folder)
        write_outputs(data, reports_dir, history=False, pdf=False)
        report_s = time.perf_counter() - began
        after_report = memory()
        raw = folder / data["scenarios"][0]["timeline"]["file"]
        total = timeline.sample_count
        render = render_seconds(folder / "report.html")
        html_bytes = (folder / "report.html").stat().st_size
        old_json = sum(len(json.dumps(_sample_to_dict(s), separators=(",", ":"))) + 1
                       for s in _first(timeline, 10_000)) / 10_000
        timeline.close()
        return {
            "label": "synthetic timeline generated through the Timeline API (no backend), profile fast",
            "backend": "none (synthetic timeline)", "profile": "none",
            "hours": hours, "probes": f"{len(probes)} at {PROBE_HZ:g} Hz", "load": f"{LOAD_RPS} requests/s",
            "samples": {"probes": probe_samples, "load": merged.records, "total": total},
            "raw_timeline_bytes": raw.stat().st_size,
            "bytes_per_sample_on_disk": round(raw.stat().st_size / total, 2),
            "schema1_json_per_sample_b": round(old_json, 1),
            "runner_peak_rss_mib_by_hour": [h["peak_mib"] for h in per_hour],
            "memory_per_hour": per_hour,
            "memory_after_merge": after_merge, "memory_after_analysis": after_analysis,
            "memory_after_report": after_report,
            "seconds": {"generate": round(generated_s, 1), "merge_load_records": round(merge_s, 1),
                        "analyze": round(analysis_s, 1), "load_report": round(load_report_s, 1),
                        "report_write": round(report_s, 1)},
            "report_json_bytes": (folder / "report.json").stat().st_size,
            "report_html_bytes": html_bytes,
            "render_median_s": render.get("median_s"),
            "render": render,
            "failover_time_s": failover.failover_time_s,
            "load_per_second_rows": len((section or {}).get("per_second", [])),
            "targets": {"report_html_under_5_mib": html_bytes < TARGETS["html_bytes"],
                        "render_under_10_s": render.get("median_s") is not None
                        and render["median_s"] < TARGETS["render_s"]},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _first(timeline: Timeline, n: int) -> list[Sample]:
    found = []
    for sample in timeline.iter_samples():
        found.append(sample)
        if len(found) >= n:
            break
    return found


def _probe_sample(rng: random.Random, name: str, kind: str, target: str, seq: int, offset: float, start: float,
                  broken: bool, moved: bool) -> Sample:
    sent = offset + rng.random() * 0.002
    if kind == "dns":
        pool = ADDRESSES[1:] if moved else ADDRESSES
        return Sample(name, kind, target, seq, offset, sent, round(start + sent, 6), Outcome.OK,
                      round(rng.uniform(0.0002, 0.001), 6), answers=(rng.choice(pool),), ttl=10, peer="127.0.0.53:53",
                      detail="rcode=NOERROR")
    if broken and name != "health:b":
        if kind == "health":
            return Sample(name, kind, target, seq, offset, sent, round(start + sent, 6), Outcome.HTTP_5XX,
                          round(rng.uniform(0.001, 0.003), 6), status=503, peer=target[7:16] + ":9000")
        return Sample(name, kind, target, seq, offset, sent, round(start + sent, 6), Outcome.TIMEOUT, None,
                      peer=f"{ADDRESSES[0]}:443", detail="read timed out after 2.000 s")
    instance = f"i-0{seq % 4}"
    return Sample(name, kind, target, seq, offset, sent, round(start + sent, 6), Outcome.OK,
                  round(rng.uniform(0.002, 0.02), 6), status=200, served_by=instance if kind == "http" else None,
                  peer=f"{ADDRESSES[seq % 4]}:443" if kind == "http" else target[7:16] + ":9000",
                  connect_s=round(rng.uniform(0.0005, 0.002), 6) if kind == "http" else None)


def render_seconds(html: Path, runs: int = 3) -> dict[str, Any]:
    """Wall time of headless Chromium loading report.html and dumping its DOM (start-up included)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return {"median_s": None, "note": "chromium not installed"}
    times = []
    with tempfile.TemporaryDirectory(prefix="soak-chromium-") as profile:
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                            "--dump-dom", html.as_uri()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=CHROMIUM_TIMEOUT_S, check=True)
            times.append(time.perf_counter() - began)
    return {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times],
            "how": "chromium --headless=new --dump-dom file://report.html, start-up included"}


def real(duration_s: int) -> dict[str, Any]:
    """One real soak through `gameday run`; its runner's memory sampled from /proc every 5 s."""
    work = Path(tempfile.mkdtemp(prefix="soak-real-"))
    command = [sys.executable, "-m", "gameday", "run", "--stack", "static-ip-haproxy", "--extended", "-k", "soak",
               "--load", "soak", "--load-duration", str(duration_s), "--report-dir", str(work / "reports")]
    samples: list[dict[str, Any]] = []
    began = time.perf_counter()
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            output: list[str] = []
            reader = _Reader(proc, output)
            while proc.poll() is None:
                runner = _runner_memory(proc.pid)
                if runner:
                    samples.append({"t_s": round(time.perf_counter() - began), **runner})
                time.sleep(5.0)
            reader.join()
        elapsed = time.perf_counter() - began
        report = next(iter((work / "reports").glob("*/report.json")), None)
        data = json.loads(report.read_text()) if report else {}
        scenario = (data.get("scenarios") or [{}])[0]
        pointer = scenario.get("timeline") or {}
        raw = report.parent / pointer["file"] if report and pointer.get("file") else None
        peak = max((s["peak_mib"] for s in samples), default=None)
        return {
            "label": "localcloud, time profile fast", "backend": "localcloud", "profile": "fast",
            "command": " ".join(command[1:]), "exit_code": proc.returncode,
            "wall_s": round(elapsed), "verdict": scenario.get("verdict"), "message": scenario.get("message"),
            "samples": pointer.get("sample_count"),
            "raw_timeline_bytes": raw.stat().st_size if raw else None,
            "bytes_per_sample_on_disk": round(raw.stat().st_size / pointer["sample_count"], 2)
            if raw and pointer.get("sample_count") else None,
            "report_json_bytes": report.stat().st_size if report else None,
            "report_html_bytes": (report.parent / "report.html").stat().st_size if report else None,
            "runner_peak_rss_mib": peak,
            **rss_growth(samples),
            "runner_rss_over_time": samples[:: max(1, len(samples) // 40)],
            "tail": output[-5:],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rss_growth(samples: list[dict[str, Any]], settle_s: float = 60.0) -> dict[str, Any]:
    """How fast the runner's resident memory grew during the hold: from `settle_s` in (deploy and start-up
    done) to the last reading before the report (the report's own pass is the last reading's jump)."""
    steady = [s for s in samples if s["t_s"] >= settle_s][:-1]
    if len(steady) < 2 or steady[-1]["t_s"] <= steady[0]["t_s"]:
        return {"runner_rss_growth_mib_per_hour": None}
    first, last = steady[0], steady[-1]
    return {"runner_rss_growth_mib_per_hour": round((last["rss_mib"] - first["rss_mib"]) * 3600
                                                   / (last["t_s"] - first["t_s"]), 1),
            "runner_rss_growth_between_s": [first["t_s"], last["t_s"]]}


class _Reader:
    """Drains the child's output on a thread (a full pipe would stall it)."""

    def __init__(self, proc: subprocess.Popen[str], into: list[str]) -> None:
        import threading
        self.thread = threading.Thread(target=lambda: into.extend(proc.stdout or []), daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(timeout=30)


def _runner_memory(parent: int) -> dict[str, Any] | None:
    """The pytest child of `gameday run` (the runner that holds the timeline): VmRSS and VmHWM, MiB."""
    for pid in _descendants(parent):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if b"pytest" not in cmdline:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {"pid": pid, "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
                "peak_mib": round(int(fields["VmHWM"].split()[0]) / 1024, 1)}
    return None


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="synthetic soak length (default 3)")
    parser.add_argument("--real", action="store_true", help="run the real soak instead (localcloud)")
    parser.add_argument("--duration", type=int, default=600, help="real soak's hold, s (default 600)")
    args = parser.parse_args()
    if not 0 < args.hours <= 24 or not 60 <= args.duration <= 3600:
        parser.error("--hours must be in (0, 24], --duration in [60, 3600]")
    before = load()
    previous = RESULTS / f"{NAME}.json"
    data = json.loads(previous.read_text()) if previous.exists() else {}
    kept = {k: data[k] for k in ("synthetic", "real") if k in data}
    mode = "real" if args.real else "synthetic"
    kept[mode] = real(args.duration) if args.real else synthetic(args.hours)
    kept[mode]["machine"] = machine(before)  # each run's own; the top-level one is the last run's
    path = write_result(NAME, kept, load_before=before)
    print(json.dumps(kept, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
