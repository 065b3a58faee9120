"""summary.md: what broke, how long users were hurt, which phase took the time, against which budget,
and how the run compares with the last game days — for CI job summaries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gameday.reports.history import Trend
from gameday.rto import summarize_outages

# A kit's own summary.md section: its stack's scenarios (report.json dicts) in, markdown lines out.
ReportSection = Callable[[list[dict[str, Any]]], list[str]]

_MARK = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error", "not run": "⛔ not run"}


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def headline_verdict(data: Mapping[str, Any]) -> str:
    """PASSED or FAILED: the release gate's verdict when the run was gated (its statistic over the attempts
    decides, as the exit code does), else every scenario's."""
    gate = data.get("gate")
    if isinstance(gate, dict) and "passed" in gate:
        return f"{'PASSED' if gate['passed'] else 'FAILED'} (release gate, {gate.get('statistic', 'gate')})"
    return "PASSED" if data["passed"] else "FAILED"


def render_summary(data: Mapping[str, Any], trend: Sequence[Trend] = (),
                   sections: Mapping[str, ReportSection] | None = None) -> str:
    """`sections`: stack id -> its kit's own section (`Kits.report_sections()`), rendered after the table."""
    verdict = headline_verdict(data)
    lines = [
        f"# Game day {data['run_id']}: {verdict}",
        "",
        f"Backend **{data['backend']}**, time profile **{data['profile']}**."
        + (" Numbers from localcloud check the failover logic and the measurement, not AWS's own speed."
           if data["backend"] == "localcloud" else
           " Measured on this backend; budgets and predictions are those of this time profile."),
        "",
        "| Stack | Scenario | Verdict | Measured | Predicted | Budget | Availability | Errors "
        "| Slower than configured |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in data["scenarios"]:
        failover = s.get("failover")
        availability = f"{failover['availability'] * 100:.1f} %" if failover else "—"
        errors = str(failover["error_count"]) if failover else "—"
        predicted = seconds(s["prediction"]["mean_s"]) if s.get("prediction") else "—"
        slow = ", ".join(c["phase"] for c in s.get("phase_check", []) if c["slow"]) or "—"
        name = s["scenario"] + (f" #{s['attempt']}" if _repeated(data, s) else "")
        lines.append(f"| {s['stack']} | {name} | {_MARK.get(s['verdict'], s['verdict'])} | "
                     f"{_measured(s)} | {predicted} | {s['budget_s']:.1f} s | "
                     f"{availability} | {errors} | {slow} |")
    lines += _distributions(data)
    lines += _kit_sections(data, sections or {})
    if trend:
        lines += ["", "## Compared with earlier game days", ""]
        lines += [f"- {'**' if t.regression else ''}{t.summary()}{'**' if t.regression else ''}" for t in trend]
    for s in data["scenarios"]:
        lines.extend(["", *_details(s)])
    return "\n".join(lines) + "\n"


def _kit_sections(data: Mapping[str, Any], sections: Mapping[str, ReportSection]) -> list[str]:
    """Each kit's own section over its stack's results (e.g. variants of one stack side by side)."""
    lines: list[str] = []
    for stack_id, section in sections.items():
        results = [s for s in data["scenarios"] if s["stack"] == stack_id]
        if results:
            lines += section(results)
    return lines


def _repeated(data: Mapping[str, Any], s: Mapping[str, Any]) -> bool:
    return int(data.get("distributions", {}).get(f"{s['stack']}/{s['scenario']}", {}).get("attempts", 1)) > 1


def _distributions(data: Mapping[str, Any]) -> list[str]:
    repeated = {k: v for k, v in data.get("distributions", {}).items() if v["attempts"] > 1}
    if not repeated:
        return []
    lines = ["", "## Repeats", "", "| Scenario | Attempts | Recovered | p50 | p95 | max |", "|---|---|---|---|---|---|"]
    for key, d in repeated.items():
        lines.append(f"| {key} | {d['attempts']} | {d['recovered']} | {seconds(d['p50_s'])} | "
                     f"{seconds(d['p95_s'])} | {seconds(d['max_s'])} |")
    return lines


def phase_label(name: str, source: str) -> str:
    return f"{name} ({source.removeprefix('probe:')})" if source.startswith("probe:dns") else name


def _details(s: Mapping[str, Any]) -> list[str]:
    title = f"## {s['stack']} / {s['scenario']}" + (f" (attempt {s['attempt']})" if s.get("attempt", 1) > 1 else "")
    lines = [title, "", s["message"], ""]
    if s.get("target"):
        lines.append(f"Fault `{s['fault']}` on `{s['target']}`.")
    failover = s.get("failover")
    if failover is None:
        return lines
    missing = [phase_label(p["name"], p["source"]) for p in failover["phases"] if p["since_fault_s"] is None]
    if missing:
        lines.append("Never reached: " + ", ".join(missing) + ".")
    for c in failover["dns"]:
        if c.get("returned_since_fault_s") is not None:
            lines.append(f"DNS answers at {c['probe']}: {', '.join(c['left'])} left at "
                         f"+{c['left_since_fault_s']:.2f} s and came back at +{c['returned_since_fault_s']:.2f} s.")
    unchanged = [c["probe"] for c in failover["dns"] if not c["changed"]]
    if unchanged:
        lines.append("DNS answers unchanged through the failover (no DNS term) at: " + ", ".join(unchanged) + ".")
    lines.append(outage_line(s))
    lines += _client_profiles(s)
    for work in s.get("measured_only", []):
        lines.append(f"Measured only (not in the model): {work['name']} {work['duration_s']:.2f} s "
                     f"from +{work['since_fault_s']:.2f} s.")
    if s.get("phase_check"):
        lines += ["", "| Phase | Measured (since fault) | Predicted | Segment measured | Segment predicted | |",
                  "|---|---|---|---|---|---|"]
        for c in s["phase_check"]:
            flag = "⚠️ slower than configured" if c["slow"] else c["verdict"]
            named = with_planes(s, c["predicted_phases"]) or "—"
            lines.append(f"| {c['phase']} ({named}) | {seconds(c['measured_s'])} | "
                         f"{seconds(c['predicted_s'])} | {seconds(c['measured_segment_s'])} | "
                         f"{seconds(c['predicted_segment_s'])} | {flag} |")
    prediction = s.get("prediction")
    if prediction and prediction.get("note"):
        lines.append("")
        lines.append(f"Prediction {prediction['mean_s']:.2f} s: {prediction['note']}.")
    if prediction and "control_plane" in prediction:
        lines.append(f"⚠️ {prediction['control_plane_flag']}." if prediction["control_plane"]
                     else "Failover path: data plane only.")
    return lines


def with_planes(scenario: Mapping[str, Any], names: Sequence[str]) -> str:
    """Predicted phase names, each with its plane: "launch [control: ec2:RunInstances]+boot [data]"."""
    planes = {p["name"]: p for p in ((scenario.get("prediction") or {}).get("phases") or []) if "plane" in p}
    return "+".join(f"{n} [{'control: ' + planes[n]['api'] if planes[n]['plane'] == 'control' else 'data'}]"
                    if n in planes else n for n in names)


def outage_line(s: Mapping[str, Any]) -> str:
    """The outage windows in one line (count, total, longest, first, last); report.json lists each."""
    summary = s.get("outages") or summarize_outages(s["failover"]["outage_windows"]).to_dict()
    return str(summary["line"])


def _client_profiles(s: Mapping[str, Any]) -> list[str]:
    """What each client profile saw, a line each where they differ; and the RTO rule when the message does
    not already say it (a kit's judge decided the verdict)."""
    lines: list[str] = []
    rto = s.get("rto")
    if rto and rto["summary"] not in s["message"]:
        lines.append(f"{rto['summary']} (recorded; this verdict was decided otherwise).")
    profiles = s.get("client_profiles")
    if profiles and not profiles["recoveries"]:  # none measured: one line says why
        lines += [line[:1].upper() + line[1:] + "." for line in profiles["lines"]]
    elif profiles and profiles["lines"]:
        lines += ["", f"Client profiles ({s.get('backend', '?')}, time profile {s.get('profile', '?')}):", ""]
        lines += [f"- {line}" for line in profiles["lines"]]
    return lines


def _measured(scenario: Mapping[str, Any]) -> str:
    """The scenario's headline number: its failover time, or (judged scenarios) what it is judged on."""
    value = seconds(scenario.get("measured_s", scenario["failover_time_s"]))
    measure = scenario.get("measure", "failover time")
    return value if measure == "failover time" else f"{value} ({measure})"
