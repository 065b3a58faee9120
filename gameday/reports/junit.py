"""junit.xml: one testcase per scenario, the numbers as properties, failures with their reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gameday.reports.run import RunReport


def render_junit(report: RunReport) -> str:
    failures = sum(1 for s in report.scenarios if s.verdict == "failed")
    errors = sum(1 for s in report.scenarios if s.verdict == "error")
    suite = ET.Element("testsuite", name=f"gameday {report.run_id}", tests=str(len(report.scenarios)),
                       failures=str(failures), errors=str(errors))
    suite_props = ET.SubElement(suite, "properties")
    for name, value in (("backend", report.backend), ("profile", report.profile), ("run_id", report.run_id)):
        ET.SubElement(suite_props, "property", name=name, value=value)
    for result in report.scenarios:
        seconds = result.failover_time_s
        case = ET.SubElement(suite, "testcase", classname=f"gameday.{result.stack_id}", name=result.scenario,
                             time=f"{seconds or 0.0:.3f}")
        props = ET.SubElement(case, "properties")
        values = {
            "failover_time_s": "" if seconds is None else f"{seconds:.3f}",
            "predicted_s": f"{result.prediction.mean_s:.3f}" if result.prediction else "",
            "budget_s": f"{result.budget_s:.3f}",
            "availability": f"{result.failover.availability:.4f}" if result.failover else "",
            "backend": result.backend,
            "profile": result.profile,
        }
        for name, value in values.items():
            ET.SubElement(props, "property", name=name, value=value)
        if result.verdict == "failed":
            ET.SubElement(case, "failure", message=result.message).text = result.message
        elif result.verdict == "error":
            ET.SubElement(case, "error", message=result.message).text = result.message
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
