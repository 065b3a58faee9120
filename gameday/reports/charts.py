"""SVG timeline charts for the HTML report, drawn here (no JavaScript, no CDN): they render offline as is.

Lanes are downsampled to one column per pixel (the worst outcome of the samples in it wins, then equal
neighbours merge), so a scenario with every sample at 20 Hz still draws a few hundred rectangles. The
downsampling runs when the report is written (`chart_data`, one streamed pass over the timeline) and
report.json keeps only the lanes' runs (`scenario["chart"]`); an older report.json with its timeline inline is
downsampled when it is drawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gameday.timeline import Timeline

WIDTH = 960  # drawing width of the time axis, px
LEFT = 170  # lane labels
LANE_H = 18
LANE_GAP = 6
LOAD_H = 90
LEAD_S = 5.0  # shown before the fault
GAP_S = 2.0  # no sample for this long: the lane shows the hole

OUTCOME_COLOURS = {
    "ok": "#2e9d4f", "fallback": "#9e9d24", "http_3xx": "#f9a825", "http_4xx": "#e0a100", "http_5xx": "#e06c00",
    "refused": "#c62828",
    "timeout": "#8e24aa", "connect_timeout": "#6a1b9a", "reset": "#ad1457", "closed": "#d84315",
    "blocked": "#455a64",
}
ERROR_COLOUR = "#b71c1c"
NO_DATA = "#e8e8e8"


def outcome_colour(outcome: str) -> str:
    return OUTCOME_COLOURS.get(outcome, "#c2185b" if outcome.startswith("dns_") else ERROR_COLOUR)


def answer_colour(answers: Sequence[str]) -> str:
    digest = hashlib.sha1(",".join(sorted(answers)).encode()).digest()
    return f"hsl({170 + digest[0] * 70 // 256}, 60%, {38 + digest[1] % 25}%)"  # teals and blues: not an outcome


class Axis:
    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, max(end, start + 1.0)

    def x(self, at: float) -> float:
        return LEFT + (at - self.start) / (self.end - self.start) * WIDTH

    def column(self, at: float) -> int:
        return min(WIDTH - 1, max(0, int((at - self.start) / (self.end - self.start) * WIDTH)))


def axis_for(scenario: Mapping[str, Any]) -> Axis:
    chart = scenario.get("chart")
    if chart:
        return Axis(chart["start"], chart["end"])
    samples = scenario["timeline"]["samples"]
    return _axis(scenario.get("fault_at"), min((s["sent_at"] for s in samples), default=None),
                 max((s["sent_at"] for s in samples), default=None))


def _axis(fault_at: float | None, first: float | None, last: float | None) -> Axis:
    first = first if first is not None else fault_at or 0.0
    last = last if last is not None else (fault_at or 0.0) + 1.0
    start = max(first, fault_at - LEAD_S) if fault_at is not None else first
    return Axis(start, last)


class Lanes:
    """Probe lanes downsampled to pixel columns while the samples stream by: per lane and column, the worst
    outcome (an error beats an answer); load probes have a chart of their own."""

    def __init__(self, axis: Axis) -> None:
        self.axis = axis
        self.kinds: dict[str, str] = {}
        self.columns: dict[str, dict[int, tuple[str, str, bool]]] = {}

    def add(self, probe: str, kind: str, sent_at: float, outcome: str, answers: Sequence[str]) -> None:
        if probe.startswith("load"):
            return
        cols = self.columns.setdefault(probe, {})
        self.kinds.setdefault(probe, kind)
        if sent_at < self.axis.start:
            return
        col = self.axis.column(sent_at)
        good = outcome == "ok"
        if kind == "dns" and good:
            label, colour = ",".join(answers) or "(empty)", answer_colour(answers)
        else:
            label, colour = outcome, outcome_colour(outcome)
        if col not in cols or (cols[col][2] and not good):
            cols[col] = (colour, label, good)

    def to_dict(self) -> dict[str, Any]:
        names = sorted(self.columns, key=lambda name: (self.kinds[name] == "dns", name))
        return {"start": self.axis.start, "end": self.axis.end,
                "lanes": [{"probe": name, "kind": self.kinds[name],
                           "runs": [list(run) for run in _runs(self.columns[name], self.axis)]} for name in names]}


def chart_data(timeline: Timeline, fault_at: float | None) -> dict[str, Any]:
    """The lanes of `timeline` for report.json: one streamed pass, at most one run per pixel column and lane."""
    stats = timeline.stats().values()
    axis = _axis(fault_at, min((s.first_at for s in stats), default=None),
                 max((s.last_at for s in stats), default=None))
    lanes = Lanes(axis)
    for s in timeline.iter_samples():
        lanes.add(s.probe, s.kind, s.sent_at, s.outcome.value, s.answers)
    return lanes.to_dict()


def _inline_chart(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The lanes of an older report.json's inline timeline."""
    lanes = Lanes(axis_for(scenario))
    samples: Iterable[Mapping[str, Any]] = scenario["timeline"]["samples"]
    for s in samples:
        lanes.add(s["probe"], s["kind"], s["sent_at"], s["outcome"], s.get("answers") or [])
    return lanes.to_dict()


def _runs(cols: Mapping[int, tuple[str, str, bool]], axis: Axis) -> list[tuple[int, int, str, str]]:
    """(first column, last column, colour, tooltip) runs of one lane's columns."""
    # A sample's colour holds until the next sample, unless nothing was sampled for GAP_S (a real hole).
    gap = max(1, int(GAP_S / (axis.end - axis.start) * WIDTH))
    ordered = sorted(cols)
    runs: list[tuple[int, int, str, str]] = []
    for i, col in enumerate(ordered):
        colour, label, _ = cols[col]
        following = ordered[i + 1] if i + 1 < len(ordered) else col + 1
        last = following - 1 if following - col <= gap else col
        if runs and runs[-1][2] == colour and runs[-1][1] >= col - 1:
            runs[-1] = (runs[-1][0], last, colour, label)
        else:
            runs.append((col, last, colour, label))
    return runs


def has_lanes(scenario: Mapping[str, Any]) -> bool:
    """Whether the scenario has probe samples to draw (report.json's chart, or an older inline timeline)."""
    chart = scenario.get("chart")
    if chart is not None:
        return bool(chart["lanes"])
    return bool((scenario.get("timeline") or {}).get("samples"))


def timeline_svg(scenario: Mapping[str, Any], chart_id: str) -> str:
    """Probe lanes (HTTP by outcome, DNS by answer per resolver), fault and phase markers, predictions."""
    chart = scenario.get("chart") or _inline_chart(scenario)
    axis = Axis(chart["start"], chart["end"])
    lanes = chart["lanes"]
    top = 28
    height = top + len(lanes) * (LANE_H + LANE_GAP) + 40
    parts = [f'<svg class="chart" id="{chart_id}" viewBox="0 0 {LEFT + WIDTH + 20} {height}" '
             f'width="{LEFT + WIDTH + 20}" height="{height}" role="img" '
             f'aria-label="timeline of {escape(scenario["stack"])} / {escape(scenario["scenario"])}">']
    parts.append(f'<rect x="{LEFT}" y="{top - 4}" width="{WIDTH}" height="{height - top - 32}" fill="#fafafa"/>')
    for i, lane in enumerate(lanes):
        y, name = top + i * (LANE_H + LANE_GAP), lane["probe"]
        parts.append(f'<text x="{LEFT - 6}" y="{y + 13}" text-anchor="end" class="lane">{escape(name)}</text>')
        parts.append(f'<rect x="{LEFT}" y="{y}" width="{WIDTH}" height="{LANE_H}" fill="{NO_DATA}"/>')
        for first, last, colour, label in lane["runs"]:
            parts.append(f'<rect x="{LEFT + first}" y="{y}" width="{last - first + 1}" height="{LANE_H}" '
                         f'fill="{colour}"><title>{escape(name)}: {escape(label)}</title></rect>')
    bottom = top + len(lanes) * (LANE_H + LANE_GAP)
    parts += _markers(scenario, axis, top, bottom)
    parts += _ticks(axis, scenario.get("fault_at"), bottom)
    parts.append("</svg>")
    return "".join(parts)


def _markers(scenario: Mapping[str, Any], axis: Axis, top: int, bottom: int) -> list[str]:
    fault_at = scenario.get("fault_at")
    if fault_at is None:
        return []
    parts = [f'<line x1="{axis.x(fault_at):.1f}" y1="{top - 10}" x2="{axis.x(fault_at):.1f}" y2="{bottom}" '
             f'stroke="#d50000" stroke-width="2"><title>fault</title></line>',
             f'<text x="{axis.x(fault_at) + 3:.1f}" y="{top - 12}" class="marker fault">fault</text>']
    failover = scenario.get("failover") or {}
    shown: set[str] = set()
    for p in failover.get("phases", []):
        if p["at"] is None or p["name"] in ("fault",) or p["name"] in shown:
            continue
        shown.add(p["name"])
        x = axis.x(p["at"])
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#1a237e" '
                     f'stroke-dasharray="3,3"><title>{escape(p["name"])} +{p["since_fault_s"]:.2f} s</title></line>')
        parts.append(f'<text x="{x + 2:.1f}" y="{bottom + 12 + 10 * (len(shown) % 2)}" class="marker">'
                     f'{escape(p["name"])}</text>')
    for work in scenario.get("measured_only", []):  # e.g. the user data: a band across the lanes
        x0, x1 = axis.x(fault_at + work["since_fault_s"]), axis.x(fault_at + work["since_fault_s"] + work["duration_s"])
        parts.append(f'<rect x="{x0:.1f}" y="{top - 4}" width="{max(x1 - x0, 1.0):.1f}" height="{bottom - top + 4}" '
                     f'fill="#ffb300" fill-opacity="0.35"><title>{escape(work["name"])} (measured only) '
                     f'{work["duration_s"]:.2f} s</title></rect>')
    for check in scenario.get("phase_check", []):  # predicted phase ends: hollow triangles above the lanes
        x = axis.x(fault_at + check["predicted_s"])
        parts.append(f'<path d="M{x - 4:.1f},{top - 10} L{x + 4:.1f},{top - 10} L{x:.1f},{top - 4} Z" fill="none" '
                     f'stroke="#1a237e"><title>predicted {escape(check["phase"])} +{check["predicted_s"]:.2f} s'
                     f'</title></path>')
    return parts


def _ticks(axis: Axis, fault_at: float | None, bottom: int) -> list[str]:
    origin = fault_at if fault_at is not None else axis.start
    span = axis.end - axis.start
    step = next(s for s in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1e9) if span / s <= 12)
    parts = []
    k = int((axis.start - origin) // step)
    while origin + k * step <= axis.end:
        at = origin + k * step
        if at >= axis.start:
            parts.append(f'<text x="{axis.x(at):.1f}" y="{bottom + 34}" class="tick" text-anchor="middle">'
                         f'{k * step:+g}s</text>')
        k += 1
    return parts


def load_svg(scenario: Mapping[str, Any], chart_id: str) -> str | None:
    """Load requests/s (grey) and errors/s (red) per second, on the timeline's axis."""
    rows = (scenario.get("load") or {}).get("per_second") or []
    if not rows:
        return None
    axis = axis_for(scenario)
    peak = max(max(r["requests"] for r in rows), 1)
    height = LOAD_H + 30

    def points(key: str) -> str:
        return " ".join(f"{axis.x(r['at']):.1f},{LOAD_H - r[key] / peak * (LOAD_H - 10) + 5:.1f}"
                        for r in rows if axis.start <= r["at"] <= axis.end)

    parts = [f'<svg class="chart" id="{chart_id}" viewBox="0 0 {LEFT + WIDTH + 20} {height}" '
             f'width="{LEFT + WIDTH + 20}" height="{height}" role="img" aria-label="load">',
             f'<rect x="{LEFT}" y="0" width="{WIDTH}" height="{LOAD_H + 5}" fill="#fafafa"/>',
             f'<text x="{LEFT - 6}" y="20" text-anchor="end" class="lane">load req/s (max {peak})</text>',
             f'<text x="{LEFT - 6}" y="36" text-anchor="end" class="lane" fill="{ERROR_COLOUR}">errors/s</text>',
             f'<polyline points="{points("requests")}" fill="none" stroke="#546e7a" stroke-width="1.5"/>',
             f'<polyline points="{points("errors")}" fill="none" stroke="{ERROR_COLOUR}" stroke-width="1.5"/>']
    fault_at = scenario.get("fault_at")
    if fault_at is not None:
        parts.append(f'<line x1="{axis.x(fault_at):.1f}" y1="0" x2="{axis.x(fault_at):.1f}" y2="{LOAD_H + 5}" '
                     f'stroke="#d50000" stroke-width="2"/>')
    parts += _ticks(axis, fault_at, LOAD_H - 10)
    parts.append("</svg>")
    return "".join(parts)


def trend_svg(values: Sequence[float | None], budget: float | None, chart_id: str) -> str:
    """A small line of failover times across runs (oldest left), the budget as a dashed line."""
    width, height = 240, 50
    known = [v for v in values if v is not None]
    top = max([*known, budget or 0.0, 1.0]) * 1.1
    step = width / max(len(values) - 1, 1)
    pts = " ".join(f"{i * step:.1f},{height - v / top * height:.1f}" for i, v in enumerate(values) if v is not None)
    parts = [f'<svg class="chart trend" id="{chart_id}" viewBox="-4 -4 {width + 8} {height + 8}" '
             f'width="{width + 8}" height="{height + 8}">']
    if budget:
        y = height - budget / top * height
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#999" stroke-dasharray="4,3"/>')
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#1a237e" stroke-width="2"/>')
    parts += [f'<circle cx="{i * step:.1f}" cy="{height - v / top * height:.1f}" r="3" fill="#1a237e">'
              f'<title>{v:.2f} s</title></circle>' for i, v in enumerate(values) if v is not None]
    parts.append("</svg>")
    return "".join(parts)
