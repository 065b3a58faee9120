"""Benchmark summary: the headline figures of the other benchmarks' results, next to their targets, in one
table, each with its backend, time profile and when it was measured. Measures nothing itself: it reads
benchmarks/results/*.json (gameday_speed, test_wall, soak_scale, probe_capacity, load_capacity,
tools_compare); a file or figure that is not there is listed as missing, never filled in.
Writes benchmarks/results/side_by_side.json and prints the table.

    python -m benchmarks.side_by_side [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS

LABEL_KEYS = ("backend", "profile")
MAX_MATCHES = 4  # a pattern found more often than this is listed by its first matches


@dataclass(frozen=True)
class Target:
    op: str  # "<=" or ">="
    limit: float
    unit: str  # the unit of `limit`; a found value is converted to it from its key's suffix

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g} {self.unit}"


@dataclass(frozen=True)
class Found:
    path: str  # where in the file, e.g. "verdict.locust_2_processes_max_rps"
    value: Any
    labels: dict[str, Any]  # backend and profile from the nearest enclosing object that names them


@dataclass(frozen=True)
class Figure:
    name: str
    source: str  # results file stem
    find: Callable[[dict[str, Any]], list[Found]]
    unit: str
    target: Target | None = None
    note: str = ""
    labels: tuple[tuple[str, str], ...] = ()  # what the benchmark measures against, when its file does not say
    target_profile: str | None = None  # the target holds for figures measured under this profile only


@dataclass(frozen=True)
class Row:
    figure: str
    source: str
    status: str  # "measured" or "missing"
    path: str | None = None
    value: Any = None
    unit: str | None = None
    target: str | None = None
    meets_target: bool | None = None
    backend: str | None = None
    profile: str | None = None
    measured_at: str | None = None
    measured_at_from: str | None = None
    note: str = ""


# --- finding figures in a results document ---

def _walk(doc: Any, path: str, labels: dict[str, Any]) -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    if isinstance(doc, dict):
        here = {**labels, **{k: doc[k] for k in LABEL_KEYS if isinstance(doc.get(k), str)}}
        for key, value in doc.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, str(key), value, here
            yield from _walk(value, sub, here)
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _walk(value, f"{path}[{index}]", labels)


def _figure_value(value: Any) -> bool:
    numbers = value if isinstance(value, list) else [value]
    return bool(numbers) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)


def keys_matching(pattern: str) -> Callable[[dict[str, Any]], list[Found]]:
    """Every number (or list of numbers) whose key fully matches `pattern`, anywhere in the document."""
    regex = re.compile(pattern)

    def find(doc: dict[str, Any]) -> list[Found]:
        return [Found(path, value, labels) for path, key, value, labels in _walk(doc, "", {})
                if regex.fullmatch(key) and _figure_value(value)][:MAX_MATCHES]
    return find


def at(path: str) -> Callable[[dict[str, Any]], list[Found]]:
    """The value at a dotted path ("a.b.c"), with the labels of the objects on the way."""
    def find(doc: dict[str, Any]) -> list[Found]:
        node: Any = doc
        labels: dict[str, Any] = {}
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return []
            labels.update({k: node[k] for k in LABEL_KEYS if isinstance(node.get(k), str)})
            node = node[part]
        return [Found(path, node, labels)] if _figure_value(node) else []
    return find


def each_under(prefix: str, rest: str) -> Callable[[dict[str, Any]], list[Found]]:
    """`<prefix>.<key>.<rest>` for every key of the object at `prefix` (e.g. every rate, every probe)."""
    def find(doc: dict[str, Any]) -> list[Found]:
        node: Any = doc
        for part in prefix.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        keys = list(node) if isinstance(node, dict) else []
        return [found for key in keys for found in at(f"{prefix}.{key}.{rest}")(doc)]
    return find


def per_label(summary_key: str) -> Callable[[dict[str, Any]], list[Found]]:
    """gameday_speed.json keeps runs under labels: each label's summary figure, its runs' backend and profile."""
    def find(doc: dict[str, Any]) -> list[Found]:
        found = []
        for label, entry in (doc.get("labels") or {}).items():
            value = (entry.get("summary") or {}).get(summary_key)
            runs = [r for r in entry.get("runs", []) if isinstance(r, dict)]
            labels = {k: runs[0][k] for k in LABEL_KEYS if runs and isinstance(runs[0].get(k), str)}
            if _figure_value(value):
                found.append(Found(f"labels.{label}.summary.{summary_key}", value, labels))
        return found
    return find


# --- the table ---

LOOPBACK = (("backend", "loopback scripted targets (no cloud)"), ("profile", "none (real time)"))
SYNTHETIC = (("backend", "none (synthetic timeline)"), ("profile", "none"))

FIGURES: tuple[Figure, ...] = (
    Figure("game day wall time", "gameday_speed", per_label("game_day_s_median"), "s", Target("<=", 120, "s"),
           "median of the label's runs; the target is the core game day's, under the fast profile",
           target_profile="fast"),
    Figure("game day CPU (process tree)", "gameday_speed", per_label("cpu_s_median"), "s",
           note="reported, no target (124 s of CPU for 181 s of game day before)"),
    Figure("test wall time", "test_wall", keys_matching(r"(test_)?wall(_time)?_s|duration_s"), "s"),
    Figure("bytes per sample on disk", "soak_scale", keys_matching(r".*bytes_per_sample.*"), "B",
           note="reported, no target (report.json held about 395 bytes per probe sample before)",
           labels=SYNTHETIC),
    Figure("runner peak RSS per hour of soak", "soak_scale", keys_matching(r".*rss.*(hour|per_h).*"), "MB",
           note="target: flat over the run (judged by reading the series)", labels=SYNTHETIC),
    Figure("report.html size, soak", "soak_scale", keys_matching(r".*html.*_(bytes|mb)"), "MB",
           Target("<=", 5, "MB"), labels=SYNTHETIC),
    Figure("report.html render time, soak", "soak_scale", keys_matching(r".*render.*_s"), "s",
           Target("<=", 10, "s"), labels=SYNTHETIC),
    Figure("probe p99 send lateness, 4 kinds at 200 Hz together", "probe_capacity",
           each_under("combined.probes", "lateness.p99_ms"), "ms", Target("<=", 5, "ms"), labels=LOOPBACK),
    Figure("probes: fresh-connection HTTP samples/s on one core", "probe_capacity",
           at("per_kind.http.sustained_samples_per_s"), "samples/s", Target(">=", 200, "samples/s"),
           labels=LOOPBACK),
    Figure("locust, 2 processes, flat out", "load_capacity", at("verdict.locust_2_processes_max_rps"), "req/s",
           Target(">=", 2000, "req/s")),
    Figure("probe p99 send lateness under paced locust", "load_capacity",
           at("verdict.probe_lateness_p99_ms_under_paced_locust_2"), "ms", Target("<=", 10, "ms")),
)


def _tools_figures() -> tuple[Figure, ...]:
    """gameday vs the command-line tools, at the rates tools_compare ran (the keys name them)."""
    figures = []
    for family, tool in (("http_vs_curl", "curl"), ("dns_vs_dig", "dig")):
        for side, label in (("gameday", "gameday"), (tool, f"{tool} loop")):
            figures.append(Figure(f"{family}: {label} p99 send lateness", "tools_compare",
                                  each_under(family, f"{side}.send_lateness.p99_ms"), "ms"))
            cpu = "cpu.process" if side == "gameday" else "cpu.total"
            figures.append(Figure(f"{family}: {label} CPU per sample", "tools_compare",
                                  each_under(family, f"{side}.{cpu}.cpu_ms_per_sample"), "ms"))
    for tool in ("wrk", "locust"):
        figures.append(Figure(f"{tool} flat out, same connections", "tools_compare",
                              at(f"locust_vs_wrk.max.{tool}.requests_per_s"), "req/s"))
        figures.append(Figure(f"{tool} CPU per 1000 requests, flat out", "tools_compare",
                              at(f"locust_vs_wrk.max.{tool}.cpu_ms_per_1000_requests"), "ms"))
    return tuple(figures)


ALL_FIGURES = FIGURES + _tools_figures()

# --- merging ---

# Units a key may name (`render_s`, `html_bytes`, `peak_rss_mb_per_hour`): dimension and scale.
SCALES = {"ms": ("time", 1e-3), "s": ("time", 1.0), "B": ("size", 1e-6), "kB": ("size", 1e-3),
          "MB": ("size", 1.0), "KiB": ("size", 1024 / 1e6), "MiB": ("size", 1024 * 1024 / 1e6)}
KEY_UNITS = {"ms": "ms", "s": "s", "bytes": "B", "b": "B", "kb": "kB", "mb": "MB", "kib": "KiB", "mib": "MiB"}


def unit_of(path: str, default: str) -> str:
    """The unit a key names (its last unit word not after "per": `requests_per_s` names none), else `default`."""
    words = path.rsplit(".", 1)[-1].lower().split("_")
    for index in range(len(words) - 1, -1, -1):
        if words[index] in KEY_UNITS and (index == 0 or words[index - 1] != "per"):
            return KEY_UNITS[words[index]]
    return default


def in_target_unit(value: Any, unit: str, target: Target) -> float | None:
    """`value` in the target's unit (None: not a single number, or not convertible)."""
    if not isinstance(value, int | float):
        return None
    if unit == target.unit:
        return float(value)
    have, want = SCALES.get(unit), SCALES.get(target.unit)
    if have is None or want is None or have[0] != want[0]:
        return None
    return float(value) * have[1] / want[1]


def measured_at(doc: dict[str, Any], path: Path) -> tuple[str | None, str]:
    """When the file's figures were measured: its own timestamp, else its last commit, else its mtime."""
    for key in ("finished_at", "measured_at", "generated_at"):
        if isinstance(doc.get(key), str):
            return doc[key], f"the file's {key}"
    try:
        clean = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", path.name], cwd=path.parent,
                               capture_output=True, timeout=10).returncode == 0
        committed = subprocess.run(["git", "log", "-1", "--format=%cI", "--", path.name], cwd=path.parent,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        clean, committed = False, ""
    if clean and committed:
        return committed, "the commit that last changed the file (it has no timestamp of its own)"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
    return stamp, "the file's modification time (it has no timestamp of its own)"


def rows_for(figure: Figure, doc: dict[str, Any] | None, path: Path, error: str | None) -> list[Row]:
    if doc is None:
        return [Row(figure.name, path.name, "missing", note=error or f"{path.name} not found")]
    found = figure.find(doc)
    if not found:
        return [Row(figure.name, path.name, "missing", note=f"not in {path.name}")]
    when, when_from = measured_at(doc, path)
    defaults = dict(figure.labels)
    rows = []
    for item in found:
        labels = {**defaults, **{k: doc[k] for k in LABEL_KEYS if isinstance(doc.get(k), str)}, **item.labels}
        unit = unit_of(item.path, figure.unit)
        target = figure.target
        if figure.target_profile not in (None, labels.get("profile")):
            target = None  # e.g. the realistic profile's game day: reported, not held to the fast one's target
        comparable = in_target_unit(item.value, unit, target) if target else None
        rows.append(Row(figure.name, path.name, "measured", item.path, item.value, unit,
                        str(target) if target else None,
                        target.met(comparable) if target and comparable is not None else None,
                        labels.get("backend", "not stated in the file"),
                        labels.get("profile", "not stated in the file"), when, when_from, figure.note))
    return rows


def _endpoint_labels(doc: dict[str, Any]) -> dict[str, Any]:
    """load_capacity names its localcloud and profile in `endpoint`."""
    endpoint = doc.get("endpoint")
    if isinstance(endpoint, dict) and endpoint.get("kind") == "localcloud instance" and "backend" not in doc:
        return {"backend": "localcloud", "profile": endpoint.get("profile")}
    return {}


def read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.exists():
        return None, f"{path.name} not found"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"{path.name} unreadable: {exc}"
    if not isinstance(doc, dict):
        return None, f"{path.name} is not a JSON object"
    return {**_endpoint_labels(doc), **doc}, None


def merge(results: Path, figures: tuple[Figure, ...] = ALL_FIGURES) -> dict[str, Any]:
    """The side-by-side table from the results in `results`."""
    documents = {source: read(results / f"{source}.json") for source in dict.fromkeys(f.source for f in figures)}
    rows: list[Row] = []
    for figure in figures:
        doc, error = documents[figure.source]
        rows.extend(rows_for(figure, doc, results / f"{figure.source}.json", error))
    return {"benchmark": "side_by_side",
            "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sources": {source: ("missing: " + (error or "")) if doc is None else "read"
                        for source, (doc, error) in documents.items()},
            "missing": sorted({f"{r.figure} ({r.source})" for r in rows if r.status == "missing"}),
            "rows": [asdict(r) for r in rows]}


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list) else f"{value:g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder to read and write")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"error: --results {args.results} is not a folder", file=sys.stderr)
        return 2
    table = merge(args.results)
    out = args.results / "side_by_side.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=2) + "\n")
    tmp.replace(out)
    for row in table["rows"]:
        if row["status"] == "missing":
            print(f"{row['figure'][:60]:60s}  MISSING  {row['note']}")
            continue
        verdict = {True: "ok", False: "BELOW TARGET", None: ""}[row["meets_target"]]
        print(f"{row['figure'][:60]:60s}  {_show(row['value'])} {row['unit']}  target {row['target'] or '-'} "
              f"{verdict}  [{row['backend']}, {row['profile']}, {row['measured_at']}]  {row['source']}:{row['path']}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
