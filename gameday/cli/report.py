"""`gameday report`: render a run's report again (summary.md, junit.xml, report.html, report.pdf from its report.json),
or, with --history, the trend of every scenario across game days and the regressions it shows."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from gameday.cli.run_policy import recorded_gate_section
from gameday.errors import ConfigError
from gameday.jsonfile import read_json
from gameday.kits import load_kits
from gameday.reports import merge, write_outputs
from gameday.reports.history import COMPARED_RUNS, completed, read_history, trends
from gameday.reports.history_store import HistoryStore, open_history
from gameday.reports.markdown import seconds
from gameday.reports.run import PARTS, SCHEMA_VERSION, finish
from gameday.run import RUN_ID
from gameday.scenario import Verdict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("examples:\n"
                     "  gameday report                          the latest run again (summary, junit, HTML)\n"
                     "  gameday report 20261120-101500-ab12     that run\n"
                     "  gameday report --history                trends per scenario over the last game days\n"
                     "  gameday report --history --fail-on-regression   exit 1 when the latest run regressed\n"
                     "  gameday report --history s3://team-gamedays/history --region eu-west-1   a durable history")
    parser.add_argument("run", nargs="?", default=None, metavar="RUN",
                        help="run id or report folder (default: the latest under --report-dir)")
    parser.add_argument("--report-dir", default="reports", help="where the runs are (default: reports)")
    parser.add_argument("--history", nargs="?", const="", default=None, metavar="PATH|s3://BUCKET/PREFIX",
                        help="trends per scenario across runs instead of one run: of <report-dir>/history.jsonl, "
                             "or of the history at PATH or under the S3 prefix (as `gameday run --history`)")
    parser.add_argument("--last", type=int, default=COMPARED_RUNS, metavar="N",
                        help=f"with --history: compare with the last N runs (default: {COMPARED_RUNS})")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="with --history: exit 1 when the latest run regressed against the earlier ones")
    parser.add_argument("--endpoint-url", default=None, metavar="URL",
                        help="with --history s3://…: an AWS-compatible endpoint (localcloud, moto) instead of AWS")
    parser.add_argument("--region", default=None, help="with --history s3://…: the bucket's region")
    parser.add_argument("--aws-profile", default=None, metavar="NAME", help="with --history s3://…: named profile")


def main(args: argparse.Namespace) -> int:
    reports_dir = Path(args.report_dir).resolve()
    if args.history is not None:
        store = open_history(args.history, reports_dir / "history.jsonl", endpoint_url=args.endpoint_url,
                             region=args.region, aws_profile=args.aws_profile)
        return _history(store, args.last, args.fail_on_regression)
    folder = _folder(reports_dir, args.run)
    data = _load(folder)
    out = _render(data, folder)
    gated = recorded_gate_section(data)
    if gated:  # the release gate `gameday run` recorded, after the summary as the run wrote it
        with (out / "summary.md").open("a") as summary:
            summary.write(gated)
    print((out / "summary.md").read_text())
    print(f"HTML report: {out / 'report.html'}")
    pdf = out / "report.pdf"
    if pdf.exists() and pdf.stat().st_mtime >= (out / "report.html").stat().st_mtime:  # printed now, not stale
        print(f"PDF report: {pdf}")
    return 0


def _folder(reports_dir: Path, run: str | None) -> Path:
    if run is not None:
        folder = Path(run) if Path(run).is_dir() else reports_dir / run
        if not folder.is_dir():
            raise ConfigError(f"no run {run!r} (looked for {folder})")
        return folder.resolve()
    runs = [p for p in reports_dir.glob("*/") if (p / "report.json").exists() or (p / "parts").is_dir()]
    if not runs:
        raise ConfigError(f"no runs under {reports_dir}")
    return max(runs, key=lambda p: p.stat().st_mtime)


def _load(folder: Path) -> dict[str, Any]:
    report = folder / "report.json"
    if report.exists():
        return finish(read_report(report))  # the derived fields (counts, distributions) are recomputed, not trusted
    parts = [read_report(part) for part in sorted((folder / PARTS).glob("*.json"))]
    if not parts:
        raise ConfigError(f"{folder} has neither report.json nor parts/ to merge")
    return merge(parts)  # a run whose parent was killed before merging


def read_report(path: Path) -> dict[str, Any]:
    """A report.json (or a part) checked into the shape the renderers read; anything else is one ConfigError."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a report (a JSON {type(data).__name__}, not an object)")
    if data.get("schema") != SCHEMA_VERSION:
        raise ConfigError(f"{path} has report schema {str(data.get('schema'))[:40]!r}; this gameday renders schema "
                          f"{SCHEMA_VERSION}")
    problem = _report_problem(data)
    if problem:
        raise ConfigError(f"{path}: damaged report ({problem})")
    return data


def _report_problem(data: dict[str, Any]) -> str:
    for key in ("run_id", "backend", "profile"):
        if not isinstance(data.get(key), str):
            return f"{key} is not a string"
    if not RUN_ID.fullmatch(data["run_id"]):
        return "run_id is not a run id"
    if not _number(data.get("started_at")) or not (data.get("ended_at") is None or _number(data["ended_at"])):
        return "started_at or ended_at is not a time"
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, list):
        return "scenarios is not a list"
    for index, s in enumerate(scenarios, start=1):
        problem = _scenario_problem(s)
        if problem:
            return f"scenario {index}: {problem}"
    return ""


def _scenario_problem(s: Any) -> str:
    if not isinstance(s, dict):
        return "not an object"
    for key in ("stack", "scenario", "message", "fault", "target"):
        if not isinstance(s.get(key), str):
            return f"{key} is not a string"
    if s.get("verdict") not in {v.value for v in Verdict}:
        return f"verdict {str(s.get('verdict'))[:40]!r} is none of {', '.join(v.value for v in Verdict)}"
    if not _number(s.get("budget_s")):
        return "budget_s is not a number"
    for key in ("failover_time_s", "measured_s", "fault_at"):
        if s.get(key) is not None and not _number(s[key]):
            return f"{key} is not a number"
    for key in ("phase_check", "measured_only"):
        if not isinstance(s.get(key, []), list) or not all(isinstance(c, dict) for c in s.get(key, [])):
            return f"{key} is not a list of objects"
    return ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _render(data: dict[str, Any], folder: Path) -> Path:
    try:
        return write_outputs(data, folder.parent, history=not _in_history(folder.parent, data["run_id"]),
                             sections=load_kits().report_sections())
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # The checks above cover the fields every report has; a renderer reading a deeper field of a
        # hand-edited report fails here: still the file's fault, still one line.
        raise ConfigError(f"{folder / 'report.json'}: damaged report ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:160]})") from None


def _in_history(reports_dir: Path, run_id: str) -> bool:
    return any(line.get("run_id") == run_id for line in read_history(reports_dir / "history.jsonl"))


def _history(store: HistoryStore, last: int, fail_on_regression: bool) -> int:
    everything = store.read()
    lines = completed(everything)  # interrupted, broken and not-run lines are kept in the file, not compared
    if not lines:
        raise ConfigError(f"no history yet: no completed run in {store.where} "
                          f"({len(everything)} line(s))")
    latest = lines[-1]
    print(f"# Trends: {len(lines)} completed run(s) of {len(everything)} in {store.where}; "
          f"latest {latest['run_id']} ({latest['backend']}, profile {latest['profile']})")
    regressed = False
    for trend in trends(lines, compared_runs=last):
        regressed |= trend.regression
        print()
        print(f"## {trend.key}")
        print()
        print("| Run | Failover time | Predicted | Budget | Verdict |")
        print("|---|---|---|---|---|")
        for point in trend.points:
            print(f"| {point.run_id} | {seconds(point.failover_time_s)} | {seconds(point.predicted_s)} | "
                  f"{point.budget_s:.1f} s | {point.verdict} |")
        print()
        print(("**" + trend.summary() + "**") if trend.regression else trend.summary())
    return 1 if regressed and fail_on_regression else 0
