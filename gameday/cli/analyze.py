"""`gameday analyze`: phases, outage windows and per-probe figures of a timeline file."""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from pathlib import Path

from gameday.analysis import FailoverResult, Percentiles, analyze, infer_fault_at
from gameday.errors import ConfigError
from gameday.jsonfile import read_json
from gameday.timeline import Sample, Timeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="timeline written by `gameday probe` (JSON) or a run's raw timeline "
                             "(timelines/*.jsonl.gz beside its report.json)")
    parser.add_argument("--fault-at", type=float, default=None, metavar="EPOCH",
                        help="when the fault was injected (default: the fault.inject event, else the first error)")
    parser.add_argument("--probe", default=None, help="follow this probe only for first good / stable")
    parser.add_argument("--stable-window", type=float, default=2.0, metavar="S",
                        help="good for this long with no error = stable (default 2)")
    parser.add_argument("--json", action="store_true", help="print the FailoverResult as JSON instead")


def main(args: argparse.Namespace) -> int:
    for name, value in (("--fault-at", args.fault_at), ("--stable-window", args.stable_window)):
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value:g}")
    if not 0 < args.stable_window <= 3600:
        raise ConfigError(f"--stable-window must be between 0 and 3600 s, got {args.stable_window:g}")
    timeline = read_timeline(Path(args.file))
    if args.fault_at is not None:
        fault_at, how = args.fault_at, "--fault-at"
    else:
        inferred = infer_fault_at(timeline)
        if inferred is None:
            print(f"timeline {timeline.run_id}: {timeline.sample_count} samples, no fault.inject event and no "
                  "error: nothing failed (give --fault-at to analyse around a time anyway)")
            return 0
        fault_at, how = inferred
    try:
        result = analyze(timeline, fault_at=fault_at, probe=args.probe, stable_window_s=args.stable_window)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(json.dumps(result.to_dict(), indent=2) if args.json else render(timeline, result, how))
    return 0


def read_timeline(path: Path) -> Timeline:
    """A timeline file into a typed Timeline, or one ConfigError naming the file (never a traceback)."""
    if _gzipped(path):
        return _read_raw(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a timeline file (a JSON {type(data).__name__}, not an object)")
    try:
        timeline = Timeline.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # from_dict trusts its input's shape
        raise ConfigError(f"{path} is not a timeline file ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]})") from None
    bad = next((n for n, s in enumerate(timeline.samples, start=1) if not _sample_ok(s)), None)
    return _checked(path, timeline, bad)


def _gzipped(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False  # read_json names what is wrong with the path


def _read_raw(path: Path) -> Timeline:
    """A raw timeline (gzip JSON Lines): read through once to check it; the analysis streams it again."""
    try:
        timeline = Timeline.open_raw(path)
        bad = next((n for n, s in enumerate(timeline.iter_samples(), start=1) if not _sample_ok(s)), None)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a timeline file ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]})") from None
    return _checked(path, timeline, bad)


def _checked(path: Path, timeline: Timeline, bad: int | None) -> Timeline:
    """The timeline, or one line on what makes it no timeline: its `bad` sample (1-based) or a time that is not
    a finite number."""
    if bad is not None:
        raise ConfigError(f"{path} is not a timeline file (sample {bad}: a field of the wrong type, or a time "
                          "that is not a finite number)")
    if not _finite(timeline.origin_at) or not all(_finite(e.at) for e in timeline.events):
        raise ConfigError(f"{path} is not a timeline file (a time that is not a finite number)")
    return timeline


def _sample_ok(sample: Sample) -> bool:
    """Timeline.from_dict passes a sample's fields through as read: the analysis needs them typed."""
    return (all(isinstance(v, str) for v in (sample.probe, sample.kind, sample.target, sample.detail))
            and isinstance(sample.seq, int) and all(_finite(v) for v in (sample.scheduled_mono, sample.sent_mono,
                                                                          sample.sent_at))
            and all(v is None or _finite(v) for v in (sample.latency_s, sample.connect_s))
            and all(isinstance(a, str) for a in sample.answers)
            and all(v is None or isinstance(v, str) for v in (sample.served_by, sample.peer))
            and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (sample.status, sample.ttl)))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def render(timeline: Timeline, result: FailoverResult, how: str) -> str:
    lines = [f"timeline {timeline.run_id}: {timeline.sample_count} samples from {len(result.probes)} probes, "
             f"fault at {_when(result.fault_at)} ({how})", "", "phases (since the fault):"]
    for phase in result.phases:
        since = "—" if phase.since_fault_s is None else f"{phase.since_fault_s:+9.3f} s"
        lines.append(f"  {phase.name:<14} {since:>12}  {phase.source}")
    if result.recovered:
        lines.append(f"failover time (fault -> stable): {result.failover_time_s:.3f} s")
    else:
        lines.append(f"not recovered: never {result.stable_window_s:g} s of good samples after the fault")
    lines += ["", f"outage windows ({len(result.outage_windows)}):"]
    for w in result.outage_windows:
        end = "still failing at the end" if w.end_at is None else f"{w.end_at - result.fault_at:+.3f} s"
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(w.outcomes.items()))
        lines.append(f"  {w.since_fault_s:+.3f} s -> {end}  ({w.duration_s:.3f} s, {w.samples} failed: {outcomes})"
                     f"  [{', '.join(w.probes)}]")
    lines.append(f"availability after the fault {result.availability * 100:.2f} %, {result.error_count} errors")
    lines += ["", "probes:"]
    for p in result.probes:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(p.errors_by_outcome.items())) or "no errors"
        lines.append(f"  {p.probe} ({p.kind}) {p.samples} samples, availability {p.availability * 100:.2f} %, "
                     f"{errors}, flaps {p.flaps}")
        lines.append(f"    latency {_ms(p.latency)}; in the failover window {_ms(p.latency_in_window)}; "
                     f"send lateness p99 {_fmt_ms(p.lateness_p99_s)}")
        if p.served_by:
            lines.append(f"    served by {' -> '.join(p.served_by)}")
    if result.dns:
        lines += ["", "dns convergence (per resolver):"]
    for c in result.dns:
        if c.changed:
            lines.append(f"  {c.probe}: {','.join(c.before) or '-'} -> {','.join(c.after) or '-'}, "
                         f"first {_since(c.first_since_fault_s)}, all {_since(c.all_since_fault_s)}")
        else:
            lines.append(f"  {c.probe}: answers never changed ({','.join(c.after) or 'none'})")
    return "\n".join(lines)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _since(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:+.3f} s"


def _fmt_ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.1f} ms"


def _ms(p: Percentiles) -> str:
    if not p.count:
        return "no answers"
    return f"p50 {_fmt_ms(p.p50)} p95 {_fmt_ms(p.p95)} p99 {_fmt_ms(p.p99)} (n={p.count})"
