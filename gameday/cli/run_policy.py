"""What `gameday run` adds for scheduled game days and CI gates: the allowed time windows, the release gate
(`[gate] statistic` with `--repeat N`), the durable history (`--history PATH|s3://…`) and the CI job summary
(`$GITHUB_STEP_SUMMARY`)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday import budgets, gate
from gameday.errors import ConfigError, GamedayError
from gameday.reports.history_store import FileHistory, HistoryStore, KeptLocally, open_history
from gameday.windows import Window, parse_windows, refusal

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class RunPolicy:
    windows: list[Window]
    statistic: str  # what a scenario is judged on over its attempts: each | p50 | p95 | max
    history: HistoryStore


def check_policy(args: argparse.Namespace) -> RunPolicy:
    """The windows, the gate and the history store, before anything starts (ConfigError: one line, exit 2)."""
    config = Path(args.budgets)
    windows = parse_windows(args.window or budgets.schedule_windows(config))
    statistic, least = budgets.gate_statistic(config)
    if statistic != "each" and args.repeat < least:
        raise ConfigError(f"{config} gates on the {statistic} of at least {least} attempts per scenario: pass "
                          f"--repeat {least} or more (got --repeat {args.repeat})")
    local = FileHistory(Path(args.report_dir).resolve() / "history.jsonl")
    store = open_history(args.history, local.path, endpoint_url=args.endpoint_url, region=args.region,
                         aws_profile=args.aws_profile)
    if store.where != local.where:
        _reachable(store)
        store = KeptLocally(store, local, lambda text: print(f"gameday run: warning: {text}", file=sys.stderr))
    return RunPolicy(windows, statistic, store)


def _reachable(store: HistoryStore) -> None:
    """A history nobody can read is found out now, not after an hour of game day."""
    try:
        store.read()
    except GamedayError as exc:
        raise ConfigError(f"--history {store.where}: {exc}") from None


def refused(policy: RunPolicy, now: datetime | None = None) -> str | None:
    return refusal(policy.windows, now or datetime.now(UTC))


def judge(policy: RunPolicy, data: dict[str, Any]) -> list[gate.GateVerdict] | None:
    """The gate's verdicts, also recorded in the report (None: every attempt is judged alone)."""
    if policy.statistic == "each":
        return None
    verdicts = gate.judge(data["scenarios"], policy.statistic)
    data["gate"] = {"statistic": policy.statistic, "passed": all(v.passed for v in verdicts),
                    "scenarios": [v.to_dict() for v in verdicts]}
    return verdicts


def gate_section(verdicts: Sequence[gate.GateVerdict]) -> str:
    """The gate's part of summary.md: one row per scenario."""
    if not verdicts:
        return ""
    rows = [f"| {v.key} | {v.statistic} | {_seconds(v.value_s)} | {v.budget_s:.1f} s | {v.attempts} | "
            f"{v.over_budget} | {'passed' if v.passed else '**FAILED**'} |" for v in verdicts]
    return "\n".join(["", f"## Release gate: {verdicts[0].statistic} of the failover time against the budget", "",
                      "| Scenario | Statistic | Value | Budget | Attempts | Over budget alone | Gate |",
                      "|---|---|---|---|---|---|---|", *rows, ""])


def recorded_gate_section(data: Mapping[str, Any]) -> str:
    """The gate's part of summary.md again, from a report.json that recorded one (`gameday report`)."""
    recorded = data.get("gate")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("scenarios"), list):
        return ""
    try:
        return gate_section([gate.GateVerdict.from_dict(v) for v in recorded["scenarios"]])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"report {data.get('run_id')!r}: damaged gate ({type(exc).__name__}: {exc})") from None


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "no recovery" if math.isinf(value) else f"{value:.2f} s"


def to_step_summary(text: str) -> None:
    """Append to the CI job's summary when the job has one (GitHub Actions sets the variable)."""
    target = os.environ.get(STEP_SUMMARY)
    if not target:
        return
    try:
        with open(target, "a") as summary:
            summary.write(text.rstrip() + "\n\n")
    except OSError as exc:  # a courtesy: the report folder is the record
        print(f"gameday run: warning: {STEP_SUMMARY} {target} not written: {exc.strerror}", file=sys.stderr)
