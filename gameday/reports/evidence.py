"""The evidence document an auditor files (printed to report.pdf): per scenario the configuration it ran against,
the fault's mechanism and what it means for clients, measured against predicted per phase, what was injected and
reverted with times, and the verdict. A print-friendly HTML page, a pure function of report.json and the run's
rollback journal; it loads nothing (its Content-Security-Policy forbids every fetch)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.faults import JournalEntry, RollbackJournal, mechanism_of
from gameday.reports.markdown import seconds
from gameday.reports.pdf import INSTALL_HINT, PdfError, find_browser, print_pdf

log = logging.getLogger(__name__)

# GAMEDAY_PDF=off: write evidence.html but print no report.pdf (a CI job that files only the HTML; the suite's own
# tests, which start dozens of game days and check the PDF in one place).
PDF_SWITCH = "GAMEDAY_PDF"


def pdf_wanted() -> bool:
    return os.environ.get(PDF_SWITCH, "on").strip().lower() not in ("off", "0", "no", "false")

_CSS = """
@page{size:A4;margin:16mm 14mm 18mm 14mm;
  @bottom-left{content:var(--run);font:8pt sans-serif;color:#555}
  @bottom-right{content:"page " counter(page) " of " counter(pages);font:8pt sans-serif;color:#555}}
body{font:9.5pt/1.4 sans-serif;color:#111;margin:0}
h1{font-size:16pt;margin:0 0 4pt}h2{font-size:13pt;margin:0 0 6pt}
h3{font-size:10.5pt;margin:10pt 0 3pt;break-after:avoid}
section.scenario{break-before:page}
table{border-collapse:collapse;width:100%;margin:3pt 0 6pt;break-inside:auto}
tr{break-inside:avoid}td,th{border:0.5pt solid #999;padding:1.5pt 4pt;text-align:left;vertical-align:top}
th{background:#eee}td.n{text-align:right;white-space:nowrap}
.passed{color:#1b5e20;font-weight:bold}.failed,.error,.slow{color:#b71c1c;font-weight:bold}
.not-run{color:#6d4c00;font-weight:bold}.note{color:#444}.mono{font-family:monospace;font-size:8.5pt;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:1pt 8pt;margin:3pt 0}dt{font-weight:bold}dd{margin:0}
"""


def write_evidence(folder: Path, data: Mapping[str, Any], *, pdf: bool | None = None) -> Path | None:
    """evidence.html in the run folder and, printed by Chromium, report.pdf (its path; None when not printed).
    `pdf` None: as GAMEDAY_PDF says (default on). A PDF that cannot be printed is one warning, never a failed game
    day: evidence.html holds the same."""
    html = folder / "evidence.html"
    html.write_text(render_evidence(data, _journal_entries(folder / "rollback.jsonl")))
    if not (pdf_wanted() if pdf is None else pdf):
        return None
    if find_browser() is None:
        log.warning("report.pdf skipped: no Chromium on PATH; %s, then `gameday report %s` prints it "
                    "(evidence.html is the same document)", INSTALL_HINT, folder)
        return None
    try:
        print_pdf(html, folder / "report.pdf")
    except PdfError as exc:
        log.warning("report.pdf not written: %s (evidence.html is the same document)", exc)
        return None
    return folder / "report.pdf"


def _journal_entries(path: Path) -> list[JournalEntry] | None:
    """None: the journal is damaged (said on the page, and in a warning); not a reason to file no evidence."""
    try:
        return RollbackJournal(path).entries()
    except ConfigError as exc:
        log.warning("evidence: %s", exc)
        return None


def render_evidence(data: Mapping[str, Any], journal: Sequence[JournalEntry] | None = ()) -> str:
    """The whole document: a cover page (run, label, verdicts, the journal), then one page per scenario.
    `journal`: the run's rollback journal entries; None when it could not be read."""
    run = f"gameday run {data['run_id']}, {data['label']}"
    body = [_cover(data, journal), *(_scenario(s) for s in data["scenarios"])]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>gameday evidence {escape(data['run_id'])}</title>"
            f"<style>:root{{--run:\"{_css_string(run)}\"}}{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def utc(at: float | None) -> str:
    if at is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d} UTC"


def _cover(data: Mapping[str, Any], journal: Sequence[JournalEntry] | None) -> str:
    verdict = "PASSED" if data["passed"] else "FAILED"
    counts = ", ".join(f"{n} {v}" for v, n in data.get("counts", {}).items() if n)
    localcloud = (" Numbers measured on localcloud check the failover logic and the measurement, not AWS's own "
                  "speed: its delays follow the time profile.") if data["backend"] == "localcloud" else ""
    rows = [[s["stack"], s["scenario"], s["fault"], _verdict(s["verdict"]), _measured(s),
             seconds((s.get("prediction") or {}).get("mean_s")), seconds(s["budget_s"])] for s in data["scenarios"]]
    return "\n".join([
        f'<h1>Game day evidence: run {escape(data["run_id"])} <span class="{verdict.lower()}">{verdict}</span></h1>',
        f"<p><b>{escape(data['label'])}</b>.{escape(localcloud)}</p>",
        _fields([("Run", data["run_id"]), ("Backend", data["backend"]), ("Time profile", data["profile"]),
                 ("Host", str(data.get("host", ""))), ("Started", utc(data.get("started_at"))),
                 ("Ended", utc(data.get("ended_at"))), ("Scenarios", counts or "none")]),
        "<h3>Scenarios</h3>",
        _table(["Stack", "Scenario", "Fault", "Verdict", "Measured", "Predicted", "Budget"], rows, raw={3}),
        "<h3>Rollback journal (rollback.jsonl): every revert, written before its fault was injected</h3>",
        _journal(journal),
    ])


def _journal(journal: Sequence[JournalEntry] | None) -> str:
    if journal is None:
        return '<p class="failed">The rollback journal could not be read (damaged): see `gameday rollback`.</p>'
    if not journal:
        return '<p class="note">No rollback journal in the run folder (no fault was injected, or it was removed).</p>'
    rows = [[utc(e.recorded_at), e.fault, e.target, e.description, _state(e)] for e in journal]
    return _table(["Recorded", "Fault", "Target", "Revert", "State"], rows, raw={4})


def _state(entry: JournalEntry) -> str:
    css = "passed" if entry.state == "reverted" else "failed" if entry.state in ("pending", "failed") else "note"
    said = f": {entry.error}" if entry.error else ""
    return f'<span class="{css}">{escape(entry.state + said)}</span>'


def _scenario(s: Mapping[str, Any]) -> str:
    title = f"{s['stack']} / {s['scenario']}" + (f" (attempt {s['attempt']})" if s.get("attempt", 1) > 1 else "")
    return "\n".join([
        f'<section class="scenario"><h2>{escape(title)}</h2>',
        f"<p>Verdict: {_verdict(s['verdict'])}. {escape(s['message'])}</p>",
        _fields([("Measured", f"{_measured(s)} ({s.get('measure', 'failover time')})"),
                 ("Budget", seconds(s["budget_s"])),
                 ("Judged on", f"{s.get('backend', '')}, time profile {s.get('profile', '')}")]),
        "<h3>Fault and what it means</h3>", _fault(s),
        "<h3>Configuration snapshot</h3>", _configuration(s.get("config")),
        "<h3>Measured vs predicted, per phase</h3>", _phases(s),
        "<h3>Injected and reverted</h3>", _injections(s),
        "</section>",
    ])


def _fault(s: Mapping[str, Any]) -> str:
    mechanism = mechanism_of(s["fault"]) or "No mechanism described: not one of gameday's own faults (a kit's own)."
    return _fields([("Fault", s["fault"]), ("Target", s["target"] or "— (not injected)"), ("Mechanism", mechanism)])


def _configuration(config: Any) -> str:
    if not config:
        return ('<p class="note">Not recorded: the scenario did not deploy, or the report was made before gameday '
                "recorded configurations.</p>")
    parts = []
    for stack in config:
        where = f"{stack['name']} ({stack['part']}, {stack['region']}{', adopted' if stack.get('adopted') else ''})"
        parts += [f"<p><b>{escape(where)}</b></p>",
                  _fields([("Template", stack.get("template") or "as deployed (adopted stack)"),
                           ("SHA-256", f"{stack['template_sha256']} (the template CloudFormation holds, as "
                                       "canonical JSON)"),
                           *([("File SHA-256", f"{stack['template_file_sha256']} (the file sent, as sha256sum "
                                               "prints it)")] if stack.get("template_file_sha256") else [])],
                          mono={"SHA-256", "File SHA-256"})]
        parameters = stack.get("parameters") or {}
        if parameters:
            parts.append(_table(["Parameter", "Value"], sorted(parameters.items())))
        checks = [[c["resource"], c["type"], "; ".join(f"{k} = {_value(v)}" for k, v in c["settings"].items())]
                  for c in stack.get("health_checks") or []]
        parts.append(_table(["Health check", "Type", "Settings"], checks) if checks
                     else '<p class="note">No health-check settings in this template.</p>')
        ttls = [[t["resource"], t.get("name", ""), t.get("type", ""), _value(t.get("ttl")), t.get("routing", "")]
                for t in stack.get("ttls") or []]
        parts.append(_table(["Record", "Name", "Type", "TTL (s)", "Routing"], ttls) if ttls
                     else '<p class="note">No DNS records in this template.</p>')
    parts.append('<p class="note">As configured in the template CloudFormation holds; on localcloud the time '
                 "profile scales AWS's delays and TTLs.</p>")
    return "\n".join(parts)


def _phases(s: Mapping[str, Any]) -> str:
    prediction = s.get("prediction") or {}
    lines = []
    if prediction:
        lines.append(f"<p>Predicted {seconds(prediction.get('mean_s'))} (range {seconds(prediction.get('low_s'))} "
                     f"to {seconds(prediction.get('high_s'))}) from the deployed configuration"
                     + (f": {escape(prediction['note'])}" if prediction.get("note") else "") + ".</p>")
    checks = s.get("phase_check") or []
    if checks:
        rows = [[f"{c['phase']} ({'+'.join(c['predicted_phases']) or '—'})", seconds(c["measured_s"]),
                 seconds(c["predicted_s"]), seconds(c["measured_segment_s"]), seconds(c["predicted_segment_s"]),
                 '<span class="slow">slower than configured</span>' if c["slow"] else escape(c["verdict"])]
                for c in checks]
        lines.append(_table(["Phase", "Measured (since fault)", "Predicted", "Segment measured",
                             "Segment predicted", "Check"], rows, raw={5}, numeric={1, 2, 3, 4}))
    failover = s.get("failover") or {}
    reached = [[p["name"], p.get("source", ""), seconds(p.get("since_fault_s"))] for p in failover.get("phases", [])]
    if reached:
        lines.append(_table(["Measured phase", "Seen by", "Since fault"], reached, numeric={2}))
    if not lines:
        return '<p class="note">Nothing measured: the scenario did not play.</p>'
    return "\n".join(lines)


def _injections(s: Mapping[str, Any]) -> str:
    events = [e for e in (s.get("timeline") or {}).get("events", []) if str(e.get("kind", "")).startswith("fault.")]
    if not events:
        return '<p class="note">Nothing injected.</p>'
    fault_at = s.get("fault_at")
    rows = [[utc(e["at"]), _since(e["at"], fault_at), e["kind"].removeprefix("fault."), e.get("subject", ""),
             _what(e.get("detail") or {})] for e in sorted(events, key=lambda e: e["at"])]
    return _table(["Time", "Since fault", "Step", "Target", "What"], rows, numeric={1})


def _what(detail: Mapping[str, Any]) -> str:
    if "error" in detail:
        return f"revert FAILED: {detail['error']}"
    if "action" in detail:
        return f"{detail['action']} (revert journalled first: {detail.get('revert', '')})"
    return str(detail.get("revert", ""))


def _since(at: float, fault_at: float | None) -> str:
    return "—" if fault_at is None else f"{at - fault_at:+.2f} s"


def _measured(s: Mapping[str, Any]) -> str:
    return seconds(s.get("measured_s", s.get("failover_time_s")))


def _verdict(verdict: str) -> str:
    return f'<span class="{escape(verdict.replace(" ", "-"))}">{escape(verdict)}</span>'


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "—" if value is None else str(value)


def _fields(pairs: Iterable[tuple[str, str]], mono: set[str] | None = None) -> str:
    items = "".join(f"<dt>{escape(k)}</dt>{_cell('dd', str(v), 'mono' if k in (mono or set()) else '')}"
                    for k, v in pairs)
    return f"<dl>{items}</dl>"


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: set[int] | None = None,
           numeric: set[int] | None = None) -> str:
    """`raw` columns are HTML already (escaped where they were built); every other cell is escaped here."""
    body = "".join("<tr>" + "".join(_cell("td", cell, "n" if i in (numeric or set()) else "", i in (raw or set()))
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + f"</tr>{body}</table>"


def _cell(tag: str, content: Any, css: str = "", raw: bool = False) -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<{tag}{attribute}>{content if raw else escape(str(content))}</{tag}>"


def _css_string(text: str) -> str:
    """Text inside a CSS string in a <style> element: no quote, backslash or tag may end it early."""
    return "".join(ch if ch.isalnum() or ch in " ,.-_/:()" else " " for ch in text)
