"""`gameday report`: render a run's report again (summary.md, junit.xml, report.html from its report.json),
or, with --history, the trend of every scenario across game days and the regressions it shows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.kits import load_kits
from gameday.reports import merge, read_parts, write_outputs
from gameday.reports.history import COMPARED_RUNS, read_history, trends
from gameday.reports.markdown import seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("examples:\n"
                     "  gameday report                          the latest run again (summary, junit, HTML)\n"
                     "  gameday report 20261120-101500-ab12     that run\n"
                     "  gameday report --history                trends per scenario over the last game days\n"
                     "  gameday report --history --fail-on-regression   exit 1 when the latest run regressed")
    parser.add_argument("run", nargs="?", default=None, metavar="RUN",
                        help="run id or report folder (default: the latest under --report-dir)")
    parser.add_argument("--report-dir", default="reports", help="where the runs are (default: reports)")
    parser.add_argument("--history", action="store_true",
                        help="trends per scenario across runs (reports/history.jsonl) instead of one run")
    parser.add_argument("--last", type=int, default=COMPARED_RUNS, metavar="N",
                        help=f"with --history: compare with the last N runs (default: {COMPARED_RUNS})")
    parser.add_argument("--fail-on-regression", action="store_true",
                        help="with --history: exit 1 when the latest run regressed against the earlier ones")


def main(args: argparse.Namespace) -> int:
    reports_dir = Path(args.report_dir).resolve()
    if args.history:
        return _history(reports_dir, args.last, args.fail_on_regression)
    folder = _folder(reports_dir, args.run)
    data = _load(folder)
    out = write_outputs(data, folder.parent, history=not _in_history(folder.parent, data["run_id"]),
                        sections=load_kits().report_sections())
    print((out / "summary.md").read_text())
    print(f"HTML report: {out / 'report.html'}")
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
        data: dict[str, Any] = json.loads(report.read_text())
        if data.get("schema") != 2:
            raise ConfigError(f"{report} has report schema {data.get('schema')!r}; this gameday renders schema 2")
        return data
    parts = read_parts(folder)
    if not parts:
        raise ConfigError(f"{folder} has neither report.json nor parts/ to merge")
    return merge(parts)  # a run whose parent was killed before merging


def _in_history(reports_dir: Path, run_id: str) -> bool:
    return any(line.get("run_id") == run_id for line in read_history(reports_dir / "history.jsonl"))


def _history(reports_dir: Path, last: int, fail_on_regression: bool) -> int:
    lines = read_history(reports_dir / "history.jsonl")
    if not lines:
        raise ConfigError(f"no history yet: {reports_dir / 'history.jsonl'} is empty or missing")
    latest = lines[-1]
    print(f"# Trends: {len(lines)} run(s) in {reports_dir / 'history.jsonl'}; latest {latest['run_id']} "
          f"({latest['backend']}, profile {latest['profile']})")
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
