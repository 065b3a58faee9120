"""report.html: one self-contained page per run (inline CSS and SVG, no CDN, no script): the index of
scenarios, then per scenario its timeline, load, phase table (measured, predicted, budget) and verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from gameday.reports.charts import OUTCOME_COLOURS, has_lanes, load_svg, timeline_svg, trend_svg
from gameday.reports.history import Trend
from gameday.reports.markdown import headline_verdict, outage_line, seconds, with_planes

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212121;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-top:1px solid #ddd;padding-top:16px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5}.passed{color:#1b5e20}.failed,.error,.slow{color:#b71c1c;font-weight:600}
.lane{font-size:11px}.tick{font-size:10px;fill:#555}.marker{font-size:10px;fill:#1a237e}.fault{fill:#d50000}
.legend span{display:inline-block;margin-right:10px}.legend i{display:inline-block;width:10px;height:10px;
margin-right:3px}.verdict{font-size:15px;margin:8px 0}.note{color:#555}
"""


def render_html(data: Mapping[str, Any], trend: Sequence[Trend] = ()) -> str:
    verdict = headline_verdict(data)
    css = "passed" if verdict.startswith("PASSED") else "failed"
    body = [f'<h1>Game day {escape(data["run_id"])}: <span class="{css}">{escape(verdict)}</span></h1>',
            f'<p>{escape(data["label"])}.' + (" Numbers from localcloud check the failover logic and the "
                                              "measurement, not AWS's own speed." if data["backend"] == "localcloud"
                                              else "") + "</p>",
            _index(data), _distributions(data), _trends(trend), _legend()]
    for i, scenario in enumerate(data["scenarios"]):
        body.append(_scenario(scenario, i))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>gameday {escape(data['run_id'])}</title><style>{_CSS}</style></head><body>"
            + "\n".join(b for b in body if b) + "</body></html>\n")


def _anchor(i: int) -> str:
    return f"scenario-{i}"


def _index(data: Mapping[str, Any]) -> str:
    rows = []
    for i, s in enumerate(data["scenarios"]):
        predicted = seconds(s["prediction"]["mean_s"]) if s.get("prediction") else "—"
        slow = ", ".join(c["phase"] for c in s.get("phase_check", []) if c["slow"]) or "—"
        availability = f"{s['failover']['availability'] * 100:.1f} %" if s.get("failover") else "—"
        attempt = f" #{s['attempt']}" if s.get("attempt", 1) > 1 else ""
        rows.append(f'<tr><td><a href="#{_anchor(i)}">{escape(s["stack"])} / {escape(s["scenario"])}{attempt}</a></td>'
                    f'<td class="{escape(s["verdict"])}">{escape(s["verdict"])}</td>'
                    f"<td>{_measured(s)}</td><td>{predicted}</td><td>{s['budget_s']:.1f} s</td>"
                    f"<td>{availability}</td><td>{escape(slow)}</td></tr>")
    return ("<table><tr><th>Scenario</th><th>Verdict</th><th>Measured</th><th>Predicted</th><th>Budget</th>"
            "<th>Availability</th><th>Slower than configured</th></tr>" + "".join(rows) + "</table>")


def _distributions(data: Mapping[str, Any]) -> str:
    repeated = {k: v for k, v in data.get("distributions", {}).items() if v["attempts"] > 1}
    if not repeated:
        return ""
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{d['attempts']}</td><td>{d['recovered']}</td>"
                   f"<td>{seconds(d['p50_s'])}</td><td>{seconds(d['p95_s'])}</td><td>{seconds(d['max_s'])}</td></tr>"
                   for k, d in repeated.items())
    return ("<h2>Repeats</h2><table><tr><th>Scenario</th><th>Attempts</th><th>Recovered</th><th>p50</th>"
            "<th>p95</th><th>max</th></tr>" + rows + "</table>")


def _trends(trend: Sequence[Trend]) -> str:
    if not trend:
        return ""
    rows = []
    for i, t in enumerate(trend):
        values = [p.failover_time_s for p in t.points]
        budget = t.points[-1].budget_s
        rows.append(f'<tr><td>{escape(t.key)}</td><td>{trend_svg(values, budget, f"trend-{i}")}</td>'
                    f'<td class="{"slow" if t.regression else ""}">{escape(t.summary())}</td></tr>')
    return ("<h2>Compared with earlier game days</h2><table><tr><th>Scenario</th>"
            "<th>Failover time per run (dashed: budget)</th><th>Trend</th></tr>" + "".join(rows) + "</table>")


def _legend() -> str:
    items = "".join(f'<span><i style="background:{c}"></i>{escape(k)}</span>' for k, c in OUTCOME_COLOURS.items())
    return (f'<p class="legend">{items}<span>DNS lanes: one colour per answer set</span>'
            "<span>▽ predicted phase end, dashed line: measured phase</span>"
            '<span><i style="background:#ffb300;opacity:.5"></i>measured-only work (user data)</span></p>')


def _scenario(s: Mapping[str, Any], i: int) -> str:
    attempt = f" (attempt {s['attempt']})" if s.get("attempt", 1) > 1 else ""
    parts = [f'<h2 id="{_anchor(i)}">{escape(s["stack"])} / {escape(s["scenario"])}{attempt}</h2>',
             f'<p class="verdict {escape(s["verdict"])}">{escape(s["verdict"].upper())}: {escape(s["message"])}</p>',
             f"<p>Fault <code>{escape(s['fault'])}</code> on <code>{escape(s.get('target') or '—')}</code>; "
             f"failover {_measured(s)}, budget {s['budget_s']:.1f} s, "
             f"predicted {seconds(s['prediction']['mean_s']) if s.get('prediction') else '—'}.</p>"]
    if has_lanes(s):
        parts.append(timeline_svg(s, f"timeline-{i}"))
    load = load_svg(s, f"load-{i}")
    if load:
        parts.append(load)
    parts.append(_phase_table(s))
    parts += _outages_and_clients(s)
    parts += [f'<p class="note">Measured only (not in the model): {escape(w["name"])} {w["duration_s"]:.2f} s from '
              f'+{w["since_fault_s"]:.2f} s.</p>' for w in s.get("measured_only", [])]
    prediction = s.get("prediction")
    if prediction and prediction.get("note"):
        parts.append(f'<p class="note">Prediction: {escape(prediction["note"])}.</p>')
    if prediction and prediction.get("control_plane"):
        parts.append(f'<p class="note slow">{escape(prediction["control_plane_flag"])}.</p>')
    elif prediction and "control_plane" in prediction:
        parts.append('<p class="note">Failover path: data plane only.</p>')
    return "\n".join(parts)


def _outages_and_clients(s: Mapping[str, Any]) -> list[str]:
    """The outage windows in one line (report.json lists each) and a row per client profile."""
    parts = [f'<p class="note">{escape(outage_line(s))}</p>'] if s.get("failover") else []
    rto = s.get("rto")
    if rto and rto["summary"] not in s["message"]:
        parts.append(f'<p class="note">{escape(rto["summary"])} (recorded; this verdict was decided otherwise).</p>')
    profiles = s.get("client_profiles")
    if profiles and not profiles["recoveries"]:  # none measured: one line says why
        parts += [f'<p class="note">{escape(line[:1].upper() + line[1:])}.</p>' for line in profiles["lines"]]
    elif profiles and profiles["lines"]:
        rows = "".join(f"<li>{escape(line)}</li>" for line in profiles["lines"])
        parts.append(f"<p>Client profiles ({escape(s.get('backend', '?'))}, time profile "
                     f"{escape(s.get('profile', '?'))}):</p><ul>{rows}</ul>")
    return parts


def _phase_table(s: Mapping[str, Any]) -> str:
    checks = s.get("phase_check") or []
    rows = []
    for c in checks:
        css = "slow" if c["slow"] else ""
        rows.append(f"<tr><td>{escape(c['phase'])}</td><td>{escape(with_planes(s, c['predicted_phases']) or '—')}</td>"
                    f"<td>{seconds(c['measured_s'])}</td><td>{seconds(c['predicted_s'])}</td>"
                    f"<td>{seconds(c['measured_segment_s'])}</td><td>{seconds(c['predicted_segment_s'])}</td>"
                    f'<td class="{css}">{escape(c["verdict"])}</td></tr>')
    failover = s.get("failover") or {}
    other = [p for p in failover.get("phases", []) if p["name"] not in {c["phase"] for c in checks}
             and p["name"] != "fault" and p["at"] is not None]
    for p in other:
        where = p["source"].removeprefix("probe:") if p["name"].startswith("dns") else ""
        rows.append(f"<tr><td>{escape(p['name'])} {escape(where)}</td><td>—</td><td>{seconds(p['since_fault_s'])}"
                    "</td><td>—</td><td>—</td><td>—</td><td>not modelled</td></tr>")
    rows.append(f"<tr><th>{escape(s.get('measure', 'failover time'))}</th><td></td><th>{_measured(s)}</th>"
                f"<th>{seconds(s['prediction']['mean_s']) if s.get('prediction') else '—'}</th>"
                f"<td colspan=\"2\">budget {s['budget_s']:.1f} s</td>"
                f"<td class=\"{escape(s['verdict'])}\">{escape(s['verdict'])}</td></tr>")
    return ("<table><tr><th>Phase</th><th>Predicted phases</th><th>Measured (since fault)</th><th>Predicted</th>"
            "<th>Segment measured</th><th>Segment predicted</th><th>Against configuration</th></tr>"
            + "".join(rows) + "</table>")


def _measured(scenario: Mapping[str, Any]) -> str:
    """The headline number: the failover time (fault → stable), or what a judged scenario stands on."""
    value = seconds(scenario.get("measured_s", scenario["failover_time_s"]))
    measure = scenario.get("measure", "failover time")
    return value if measure == "failover time" else f"{value} ({escape(measure)})"
