"""summary.md: what broke, how long users were hurt, against which budget — for CI job summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameday.scenario import ScenarioResult

if TYPE_CHECKING:
    from gameday.reports.run import RunReport

_MARK = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error"}


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def render_summary(report: RunReport) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"# Game day {report.run_id}: {verdict}",
        "",
        f"Backend **{report.backend}**, time profile **{report.profile}**."
        + (" Numbers from localcloud check the failover logic and the measurement, not AWS's own speed."
           if report.backend == "localcloud" else ""),
        "",
        "| Stack | Scenario | Verdict | Failover time (measured) | Predicted | Budget | Availability | Errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in report.scenarios:
        failover = result.failover
        availability = f"{failover.availability * 100:.1f} %" if failover else "—"
        errors = str(failover.error_count) if failover else "—"
        predicted = _seconds(result.prediction.mean_s) if result.prediction else "—"
        lines.append(f"| {result.stack_id} | {result.scenario} | {_MARK.get(result.verdict, result.verdict)} | "
                     f"{_seconds(result.failover_time_s)} | {predicted} | {result.budget_s:.1f} s | "
                     f"{availability} | {errors} |")
    for result in report.scenarios:
        lines.extend(["", *_details(result)])
    return "\n".join(lines) + "\n"


def _phase_label(name: str, source: str) -> str:
    return f"{name} ({source.removeprefix('probe:')})" if source.startswith("probe:dns") else name


def _details(result: ScenarioResult) -> list[str]:
    lines = [f"## {result.stack_id} / {result.scenario}", "", result.message, ""]
    if result.target:
        lines.append(f"Fault `{result.fault}` on `{result.target}`.")
    failover = result.failover
    if failover is None:
        return lines
    phases = [f"{_phase_label(p.name, p.source)} +{p.since_fault_s:.2f} s" for p in failover.phases
              if p.since_fault_s is not None]
    missing = [_phase_label(p.name, p.source) for p in failover.phases if p.since_fault_s is None]
    lines.append("Phases since the fault: " + (", ".join(phases) or "none") + ".")
    if missing:
        lines.append("Never reached: " + ", ".join(missing) + ".")
    unchanged = [c.probe for c in failover.dns if not c.changed]
    if unchanged:
        lines.append("DNS answers unchanged through the failover (no DNS term) at: " + ", ".join(unchanged) + ".")
    for window in failover.outage_windows:
        lines.append(f"Outage window: {window.duration_s:.2f} s from +{window.start_at - failover.fault_at:.2f} s "
                     f"({window.samples} failed samples).")
    prediction = result.prediction
    if prediction:
        note = f" ({prediction.note})" if prediction.note else ""
        lines.append("Predicted phases: " + ", ".join(f"{p.name} {p.mean_s:.2f} s" for p in prediction.phases)
                     + f" = {prediction.mean_s:.2f} s{note}.")
    return lines
