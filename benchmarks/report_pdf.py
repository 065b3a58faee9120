"""How long printing report.pdf adds to a game day: the evidence of a real run (default: the newest run under
reports/ with a report.json) rendered and printed by headless Chromium, a few times, with its page count.

    python -m benchmarks.report_pdf [RUN_FOLDER ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import load, write_result
from gameday.reports.evidence import render_evidence
from gameday.reports.pdf import find_browser, print_pdf

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def measure(folder: Path, repeat: int, scratch: Path) -> dict[str, Any]:
    data = json.loads((folder / "report.json").read_text())
    started = time.perf_counter()
    html = scratch / "evidence.html"
    html.write_text(render_evidence(data))
    render_s = time.perf_counter() - started
    prints = [print_pdf(html, scratch / "report.pdf") for _ in range(repeat)]
    pdf = (scratch / "report.pdf").read_bytes()
    return {"run": folder.name, "label": data["label"], "scenarios": len(data["scenarios"]),
            "pages": _pages(scratch / "report.pdf"), "pdf_bytes": len(pdf),
            "render_html_s": round(render_s, 3), "print_s": [round(s, 2) for s in prints],
            "print_max_s": round(max(prints), 2)}


def _pages(pdf: Path) -> int | None:
    """The page count poppler's pdfinfo reads (None without poppler-utils)."""
    if shutil.which("pdfinfo") is None:
        return None
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.M)
    return int(found[1]) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="*", type=Path, help="run folders (default: the newest under reports/)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = args.runs or sorted((p.parent for p in REPORTS.glob("*/report.json")), key=lambda p: p.stat().st_mtime)[-1:]
    before = load()
    if not runs or find_browser() is None:
        path = write_result("report_pdf", {"skipped": "no run with a report.json, or no Chromium"}, load_before=before)
        print(f"skipped; {path}")
        return 0
    results = []
    for folder in runs:
        with tempfile.TemporaryDirectory(prefix="gameday-bench-pdf-") as scratch:
            results.append(measure(folder, args.repeat, Path(scratch)))
            print(json.dumps(results[-1]))
    path = write_result("report_pdf", {"browser": find_browser(), "runs": results,
                                       "note": "wall time of one headless Chromium print (start to exit), "
                                               "the cost report.pdf adds to each game day"}, load_before=before)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
