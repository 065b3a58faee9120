"""junit.xml: one testcase per scenario, the numbers as properties, failures with their reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any


def render_junit(data: Mapping[str, Any]) -> str:
    scenarios = data["scenarios"]
    failures = sum(1 for s in scenarios if s["verdict"] == "failed")
    errors = sum(1 for s in scenarios if s["verdict"] in ("error", "not run"))
    suite = ET.Element("testsuite", name=f"gameday {data['run_id']}", tests=str(len(scenarios)),
                       failures=str(failures), errors=str(errors))
    suite_props = ET.SubElement(suite, "properties")
    for name in ("backend", "profile", "run_id"):
        ET.SubElement(suite_props, "property", name=name, value=str(data[name]))
    for s in scenarios:
        seconds = s.get("measured_s", s["failover_time_s"])
        name = s["scenario"] + (f"[{s['attempt']}]" if s.get("attempt", 1) > 1 else "")
        case = ET.SubElement(suite, "testcase", classname=f"gameday.{s['stack']}", name=name,
                             time=f"{seconds or 0.0:.3f}")
        props = ET.SubElement(case, "properties")
        failover = s.get("failover")
        slow = [c["phase"] for c in s.get("phase_check", []) if c["slow"]]
        values = {
            "failover_time_s": "" if seconds is None else f"{seconds:.3f}",
            "measure": s.get("measure", "failover time"),
            "predicted_s": f"{s['prediction']['mean_s']:.3f}" if s.get("prediction") else "",
            "budget_s": f"{s['budget_s']:.3f}",
            "availability": f"{failover['availability']:.4f}" if failover else "",
            "slower_than_configured": ",".join(slow),
            "backend": s["backend"],
            "profile": s["profile"],
        }
        for key, value in values.items():
            ET.SubElement(props, "property", name=key, value=value)
        if s["verdict"] == "failed":
            ET.SubElement(case, "failure", message=s["message"]).text = s["message"]
        elif s["verdict"] == "error":
            ET.SubElement(case, "error", message=s["message"]).text = s["message"]
        elif s["verdict"] == "not run":  # a gate must not read a scenario that never ran as green
            ET.SubElement(case, "error", type="not run", message=f"not run: {s['message']}").text = s["message"]
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
