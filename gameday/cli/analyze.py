"""`gameday analyze`: phases, outage windows and per-probe figures of a timeline file."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from gameday.analysis import FailoverResult, Percentiles, analyze, infer_fault_at
from gameday.errors import ConfigError
from gameday.timeline import Timeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.json", help="timeline written by `gameday probe` or a run")
    parser.add_argument("--fault-at", type=float, default=None, metavar="EPOCH",
                        help="when the fault was injected (default: the fault.inject event, else the first error)")
    parser.add_argument("--probe", default=None, help="follow this probe only for first good / stable")
    parser.add_argument("--stable-window", type=float, default=2.0, metavar="S",
                        help="good for this long with no error = stable (default 2)")
    parser.add_argument("--json", action="store_true", help="print the FailoverResult as JSON instead")


def main(args: argparse.Namespace) -> int:
    timeline = read_timeline(Path(args.file))
    if not args.stable_window > 0:
        raise ConfigError(f"--stable-window must be > 0, got {args.stable_window:g}")
    if args.fault_at is not None:
        fault_at, how = args.fault_at, "--fault-at"
    else:
        inferred = infer_fault_at(timeline)
        if inferred is None:
            print(f"timeline {timeline.run_id}: {len(timeline.samples)} samples, no fault.inject event and no "
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
    try:
        return Timeline.read(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a timeline file: {exc}") from exc


def render(timeline: Timeline, result: FailoverResult, how: str) -> str:
    lines = [f"timeline {timeline.run_id}: {len(timeline.samples)} samples from {len(result.probes)} probes, "
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
