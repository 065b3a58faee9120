"""The spot-vpc-origin kit's own summary.md section: variants broken at the same moment, side by side, and the
generic summary rendering it through the kits' report sections."""

from __future__ import annotations

from typing import Any

from gameday.kits import load_kits
from gameday.kits.spot_vpc_origin.report import variants_compared
from gameday.reports.markdown import render_summary


def thrash(variant: str, outage: float, final: list[str], stale: float, verdict: str) -> dict[str, Any]:
    return {"stack": "spot-vpc-origin", "scenario": f"two-instances-alive-{variant}", "verdict": verdict,
            "budget_s": 20.0, "message": "m", "fault": "capacity-thrash", "target": "g", "prediction": None,
            "failover_time_s": outage, "measured_s": outage,
            "failover": None, "headline": {"label": "outage seen through CloudFront", "seconds": outage},
            "details": {"comparison": "capacity-thrash", "reading": "thrash", "variant": variant, "left": ["i-old"],
                        "survivor": "i-new", "named_newcomer_s": 7.5, "lww_start_s": 7.5, "lww_end_s": 7.9,
                        "stale_s": stale, "final_names": final, "outage_s": outage, "fallback_samples": 3,
                        "error_samples": 0, "record_spans": [
                            {"start_s": 0.0, "end_s": 7.5, "names": ["i-old"], "stale_s": stale},
                            {"start_s": 7.5, "end_s": 30.0, "names": final, "stale_s": 0.0}]}}


RESULTS = [thrash("user-data", 14.0, ["i-gone"], 10.5, "failed"), thrash("lifecycle-hook", 2.4, ["i-new"], 0.0,
                                                                           "passed")]


def test_thrash_variants_compared_with_the_record_over_time() -> None:
    text = "\n".join(variants_compared(RESULTS))

    assert "## Variants compared: spot-vpc-origin, capacity-thrash" in text
    assert "| lifecycle-hook | ✅ passed | i-old | 7.50 s | 7.50 – 7.90 s | 0.00 s | i-new | 2.40 s | 3 | 0 |" in text
    assert "| i-gone ⚠️ |" in text  # the record ends on an instance that is not the survivor
    assert "Least hurt: **lifecycle-hook** (2.40 s seen through CloudFront)." in text
    assert "- user-data: +0.0–7.5 s i-old (**stale 10.50 s**); +7.5–30.0 s i-gone" in text


def test_the_summary_renders_the_section_of_the_kit_that_has_one() -> None:
    data = {"run_id": "r", "passed": False, "backend": "localcloud", "profile": "fast", "scenarios": RESULTS}

    with_section = render_summary(data, sections=load_kits().report_sections())
    without = render_summary(data)

    assert "## Variants compared: spot-vpc-origin, capacity-thrash" in with_section
    assert "Variants compared" not in without


def failover(variant: str, served: float, aaaa: float | None, edge: float | None,
             moved: float | None) -> dict[str, Any]:
    return {"stack": "spot-vpc-origin", "scenario": f"spot-interruption-{variant}", "verdict": "passed",
            "budget_s": 45.0, "message": "m", "fault": "spot-interruption", "target": "g", "prediction": None,
            "failover_time_s": served, "measured_s": served, "failover": None, "headline": None,
            "details": {"comparison": "spot-interruption", "reading": "failover", "variant": variant,
                        "aaaa_switch_s": aaaa, "edge_switch_s": edge, "interface_moved_s": moved,
                        "record_moved": False, "outage_s": served - 10.0, "fallback_samples": 90,
                        "error_samples": 0, "served_again_s": served}}


def test_the_fixed_address_variant_says_its_record_never_moved_and_when_the_address_did() -> None:
    text = "\n".join(variants_compared([failover("user-data", 35.1, 31.9, 35.2, None),
                                        failover("eni", 28.1, None, None, 27.6)]))

    assert ("| eni | ✅ passed | never (fixed address) | never (fixed address) | 27.60 s | 18.10 s | 90 | 0 "
            "| 28.10 s |") in text
    assert "| user-data | ✅ passed | 31.90 s | 35.20 s | — | 25.10 s |" in text
    assert text.index("| eni |") < text.index("| user-data |")  # quickest first
    assert "Least hurt: **eni**" in text
