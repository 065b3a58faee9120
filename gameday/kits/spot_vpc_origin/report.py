"""spot-vpc-origin's own summary.md section: the variants broken at the same moment, side by side per fault
(one table per comparison, read from each variant's typed reading in the result's `details`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gameday.reports.markdown import seconds
from gameday.scenario import Verdict

_MARK = {Verdict.PASSED: "✅ passed", Verdict.FAILED: "❌ failed", Verdict.ERROR: "⚠️ error",
         Verdict.NOT_RUN: "⛔ not run"}


def _mark(verdict: str) -> str:
    return _MARK.get(Verdict(verdict), verdict) if verdict in tuple(Verdict) else verdict


def variants_compared(scenarios: list[dict[str, Any]]) -> list[str]:
    """Every comparison of this stack's run: which variant was least hurt, and how each got there."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for s in scenarios:
        details = s.get("details") or {}
        if "variant" in details and "comparison" in details:
            groups.setdefault((s["stack"], details["comparison"]), []).append(s)
    lines: list[str] = []
    for (stack, fault), results in groups.items():
        lines += ["", f"## Variants compared: {stack}, {fault}", ""]
        kind = results[0]["details"].get("reading", "failover")
        lines += _thrash_table(results) if kind == "thrash" else _failover_table(results)
        if kind == "cleanup":
            lines += _cleanup_table(results)
        lines += _record_lanes(results)
    return lines
def _failover_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["The same fault at the same moment for every variant; seconds since the fault. \"Record switched\": "
             "the VPC's DNS server names the new instance; \"CloudFront switched\": CloudFront's own cached "
             "answer moved (it honours the TTL); \"Address moved\": the fixed address of a variant whose record "
             "never changes (eni) reaches the new instance.", "",
             "| Variant | Verdict | Record switched | CloudFront switched | Address moved "
             "| Outage seen through CloudFront | Maintenance pages | Errors served | Served again |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(results, key=lambda r: (r["details"].get("served_again_s") is None,
                                            r["details"].get("served_again_s") or 0.0)):
        d = s["details"]
        lines.append(f"| {d['variant']} | {_mark(s['verdict'])} "
                     f"| {_never_moves(d, 'aaaa_switch_s')} | {_never_moves(d, 'edge_switch_s')} "
                     f"| {seconds(d.get('interface_moved_s'))} "
                     f"| {seconds(d.get('outage_s'))} "
                     f"| {d.get('fallback_samples', 0)} | {d.get('error_samples', 0)} "
                     f"| {seconds(d.get('served_again_s'))} |")
    return lines + _least_hurt(results)


def _never_moves(details: Mapping[str, Any], key: str) -> str:
    """A fixed address's record is meant not to switch: say so rather than show a missing time."""
    if details.get(key) is None and details.get("interface_moved_s") is not None:
        return "never (fixed address)"
    return seconds(details.get(key))


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
        lines.append(f"| {d['variant']} | {_mark(s['verdict'])} | {left} "
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


