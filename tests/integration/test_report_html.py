"""report.html in headless Chromium (Debian's package), offline: no console errors, every chart drawn.

The screenshots stay in reports/test-output/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from gameday.reports import RunReport, write_outputs
from tests.chromium import chromium, open_page
from tests.gameday.scenario_data import scenario

pytestmark = pytest.mark.integration

OUTPUT = Path(__file__).resolve().parents[2] / "reports" / "test-output"

# Per chart: id, drawn width and height, number of shapes, and colours actually painted in the lanes.
CHARTS = """Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const fills = new Set(Array.from(svg.querySelectorAll('rect,polyline,circle')).map(
      e => getComputedStyle(e).fill + getComputedStyle(e).stroke));
  return {id: svg.id, width: box.width, height: box.height, shapes: svg.querySelectorAll('*').length,
          colours: fills.size};
})"""


def run_report(tmp_path: Path) -> Path:
    run = RunReport("html-check", "localcloud", "fast", started_at=1_000.0, ended_at=1_200.0)
    run.scenarios += [scenario(with_load=True), scenario(detection_s=12.0, predicted_detection_s=6.5, budget_s=15.0)]
    for i in range(3):  # earlier game days, so the trend chart has points
        earlier = RunReport(f"earlier-{i}", "localcloud", "fast", started_at=float(i))
        earlier.scenarios.append(scenario(start_at=100.0 * i))
        write_outputs(earlier.to_dict(), tmp_path)
    return write_outputs(run.to_dict(), tmp_path) / "report.html"


def distinct_colours(png: bytes) -> int:
    """Colours in an 8-bit RGB(A) PNG (Chromium's screenshots): a blank page has one."""
    width, height, depth, colour_type = struct.unpack(">IIBB", png[16:26])
    assert depth == 8 and colour_type in (2, 6)
    chunks, pos = b"", 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            chunks += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(chunks)
    stride = width * (4 if colour_type == 6 else 3)
    # Filtered scanlines; distinct filtered rows are enough to tell a blank page from a drawn one.
    return len({raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(0, height, 7)})


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (make test installs it)")
def test_report_opens_offline_with_every_chart_rendered_and_no_console_errors(tmp_path: Path) -> None:
    html = run_report(tmp_path)
    page = open_page(html, CHARTS)

    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "report-html.png").write_bytes(page.screenshot)
    assert page.console_errors == []
    ids = [chart["id"] for chart in page.value]
    assert {"timeline-0", "timeline-1", "load-0", "trend-0"} <= set(ids)
    for chart in page.value:
        assert chart["width"] > 100 and chart["height"] > 20, chart
        assert chart["shapes"] > 2 and chart["colours"] >= 2, chart  # something with colour was drawn
    assert distinct_colours(page.screenshot) > 20
    assert page.profile is not None and not page.profile.exists()  # the browser's own profile, not other tests'


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (make test installs it)")
def test_the_harness_sees_console_errors(tmp_path: Path) -> None:
    page_file = tmp_path / "broken.html"
    page_file.write_text("<!DOCTYPE html><html><body><script>console.error('drawn badly'); undefinedCall();"
                         "</script></body></html>")

    page = open_page(page_file, "1")

    assert "drawn badly" in page.console_errors
    assert any("undefinedCall" in e or "Uncaught" in e for e in page.console_errors)
