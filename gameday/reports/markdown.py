"""summary.md: what broke, how long users were hurt, which phase took the time, against which budget,
and how the run compares with the last game days — for CI job summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gameday.reports.history import Trend

_MARK = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error", "not run": "⛔ not run"}


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def render_summary(data: Mapping[str, Any], trend: Sequence[Trend] = ()) -> str:
    verdict = "PASSED" if data["passed"] else "FAILED"
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
    lines += _comparisons(data)
    if trend:
        lines += ["", "## Compared with earlier game days", ""]
        lines += [f"- {'**' if t.regression else ''}{t.summary()}{'**' if t.regression else ''}" for t in trend]
    for s in data["scenarios"]:
        lines.extend(["", *_details(s)])
    return "\n".join(lines) + "\n"


def _comparisons(data: Mapping[str, Any]) -> list[str]:
    """Variants of one stack broken in the same run, side by side per fault (the scenario's `details`)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for s in data["scenarios"]:
        details = s.get("details") or {}
        if "variant" in details and "comparison" in details:
            groups.setdefault((s["stack"], details["comparison"]), []).append(s)
    lines: list[str] = []
    for (stack, fault), results in groups.items():
        lines += ["", f"## Variants compared: {stack}, {fault}", ""]
        if any("lww_start_s" in r["details"] for r in results):
            lines += _thrash_table(results)
        else:
            lines += _failover_table(results)
        if any("negative_answers" in r["details"] for r in results):
            lines += _cleanup_table(results)
        lines += _record_lanes(results)
    return lines


def _failover_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["The same fault at the same moment for every variant; seconds since the fault. \"Record switched\": "
             "the VPC's DNS server names the new instance; \"CloudFront switched\": CloudFront's own cached "
             "answer moved (it honours the TTL).", "",
             "| Variant | Verdict | Record switched | CloudFront switched | Outage seen through CloudFront "
             "| Maintenance pages | Errors served | Served again |",
             "|---|---|---|---|---|---|---|---|"]
    for s in sorted(results, key=lambda r: (r["details"].get("served_again_s") is None,
                                            r["details"].get("served_again_s") or 0.0)):
        d = s["details"]
        lines.append(f"| {d['variant']} | {_MARK.get(s['verdict'], s['verdict'])} "
                     f"| {seconds(d.get('aaaa_switch_s'))} | {seconds(d.get('edge_switch_s'))} "
                     f"| {seconds(d.get('outage_s'))} "
                     f"| {d.get('fallback_samples', 0)} | {d.get('error_samples', 0)} "
                     f"| {seconds(d.get('served_again_s'))} |")
    return lines + _least_hurt(results)


def _thrash_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["Each group ran a second instance, then let one go once the newcomer passed its health check; seconds "
             "since the scale-out. **Last-writer-wins window**: the record named only the newcomer while both "
             "were alive. **Stale**: the record named an instance that was gone.", "",
             "| Variant | Verdict | Left | Record named the newcomer | Last-writer-wins window | Stale "
             "| Record at the end | Outage seen through CloudFront | Maintenance pages | Errors served |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(results, key=lambda r: r["details"].get("outage_s") or 0.0):
        d = s["details"]
        window = "—" if d.get("lww_start_s") is None else \
            f"{d['lww_start_s']:.2f} – {seconds(d.get('lww_end_s')).removesuffix(' s')} s"
        survivor = d.get("survivor")
        final = ", ".join(d.get("final_names") or []) or "nothing"
        final += "" if survivor is not None and list(d.get("final_names") or []) == [survivor] else " ⚠️"
        left = ", ".join(d.get("left") or []) or "—"
        lines.append(f"| {d['variant']} | {_MARK.get(s['verdict'], s['verdict'])} | {left} "
                     f"| {seconds(d.get('named_newcomer_s'))} | {window} | {seconds(d.get('stale_s'))} | {final} "
                     f"| {seconds(d.get('outage_s'))} | {d.get('fallback_samples', 0)} | {d.get('error_samples', 0)} |")
    return lines + _least_hurt(results)


def _least_hurt(results: Sequence[Mapping[str, Any]]) -> list[str]:
    best = min((r for r in results if r["details"].get("outage_s") is not None),
               key=lambda r: r["details"]["outage_s"], default=None)
    if best is None:
        return []
    return ["", f"Least hurt: **{best['details']['variant']}** ({best['details']['outage_s']:.2f} s seen through "
                "CloudFront)."]


def _cleanup_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["", "| Variant | Outage seen through CloudFront | Record named a gone instance "
                 "| CloudFront found no address | Longest cached negative answer | Terminating hook |",
             "|---|---|---|---|---|---|"]
    for s in results:
        d = s["details"]
        hook = d.get("terminating_hook")
        hook_text = "none" if not hook else f"{hook.get('result', '?')} by {hook.get('by', '?')} after " \
                                            f"{seconds(hook.get('waited_s'))}"
        lines.append(f"| {d['variant']} | {seconds(d.get('outage_total_s'))} | {seconds(d.get('stale_s'))} "
                     f"| {d.get('negative_answers', 0)} | {seconds(d.get('negative_cached_s'))} | {hook_text} |")
    return lines


def _record_lanes(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Who the record named over time, per variant (seconds since the fault)."""
    lanes = [(r["details"]["variant"], r["details"]["record_spans"]) for r in results
             if r["details"].get("record_spans")]
    if not lanes:
        return []
    lines = ["", "What the VPC's DNS server answered for the origin name, over time:", ""]
    for variant, spans in lanes:
        parts = []
        for span in spans:
            names = ", ".join(span["names"]) or "no record"
            stale = f" (**stale {span['stale_s']:.2f} s**)" if span.get("stale_s") else ""
            parts.append(f"+{span['start_s']:.1f}–{span['end_s']:.1f} s {names}{stale}")
        lines.append(f"- {variant}: " + "; ".join(parts))
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
    for window in failover["outage_windows"]:
        lines.append(f"Outage window: {window['duration_s']:.2f} s from +{window['since_fault_s']:.2f} s "
                     f"({window['samples']} failed samples).")
    for work in s.get("measured_only", []):
        lines.append(f"Measured only (not in the model): {work['name']} {work['duration_s']:.2f} s "
                     f"from +{work['since_fault_s']:.2f} s.")
    if s.get("phase_check"):
        lines += ["", "| Phase | Measured (since fault) | Predicted | Segment measured | Segment predicted | |",
                  "|---|---|---|---|---|---|"]
        for c in s["phase_check"]:
            flag = "⚠️ slower than configured" if c["slow"] else c["verdict"]
            lines.append(f"| {c['phase']} ({'+'.join(c['predicted_phases']) or '—'}) | {seconds(c['measured_s'])} | "
                         f"{seconds(c['predicted_s'])} | {seconds(c['measured_segment_s'])} | "
                         f"{seconds(c['predicted_segment_s'])} | {flag} |")
    prediction = s.get("prediction")
    if prediction and prediction.get("note"):
        lines.append("")
        lines.append(f"Prediction {prediction['mean_s']:.2f} s: {prediction['note']}.")
    return lines


def _measured(scenario: Mapping[str, Any]) -> str:
    """The scenario's headline number: its failover time, or (judged scenarios) what it is judged on."""
    value = seconds(scenario.get("measured_s", scenario["failover_time_s"]))
    measure = scenario.get("measure", "failover time")
    return value if measure == "failover time" else f"{value} ({measure})"
