"""report.pdf of a real game day (eip-self-healing/terminate-instance on localcloud, as a user types it), rendered
to PNG pages (poppler's pdftoppm) and read back as text (pdftotext); and the printing itself: offline, bounded,
nothing left behind."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.faults import mechanism_of
from gameday.reports.pdf import PdfError, find_browser, print_pdf

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(find_browser() is None or shutil.which("pdftoppm") is None,
                                 reason="needs chromium and poppler-utils (make test installs them)")]

ROOT = Path(__file__).resolve().parents[2]
PDF_ON = {**os.environ, "GAMEDAY_PDF": "on"}  # the suite turns it off for every other game day


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    done = subprocess.run([sys.executable, "-m", "gameday", "run", "--stack", "eip-self-healing",
                           "-k", "terminate-instance", "--report-dir", str(reports)],
                          cwd=ROOT, env=PDF_ON, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [folder] = [p for p in reports.iterdir() if p.is_dir()]
    return folder


def pages(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf), str(out / "page")], check=True, timeout=60)
    return sorted(out.glob("page-*.pgm"))


def inked(pgm: Path) -> int:
    """Pixels darker than near-white on a binary PGM page (P5, 8-bit)."""
    raw = pgm.read_bytes()
    magic, width, height, depth, pixels = raw.split(maxsplit=4)
    assert magic == b"P5" and depth == b"255"
    return sum(1 for value in pixels[:int(width) * int(height)] if value < 200)


@pytest.mark.slow  # the game day behind run_folder: about 90 s on a busy machine
def test_report_pdf_pages_render_and_none_is_blank(run_folder: Path, tmp_path: Path) -> None:
    data = json.loads((run_folder / "report.json").read_text())

    rendered = pages(run_folder / "report.pdf", tmp_path)

    # A cover page, then each scenario on its own page(s).
    assert 1 + len(data["scenarios"]) <= len(rendered) <= 1 + 3 * len(data["scenarios"])
    # A page holding only its footer (run label, page number) inks about 230 pixels at 40 dpi; content, thousands.
    assert all(inked(page) > 500 for page in rendered), [inked(page) for page in rendered]


@pytest.mark.slow  # the game day behind run_folder: about 90 s on a busy machine
def test_report_pdf_holds_the_evidence_of_the_run(run_folder: Path) -> None:
    data = json.loads((run_folder / "report.json").read_text())
    [scenario] = data["scenarios"]
    [stack] = scenario["config"]

    text = " ".join(subprocess.run(["pdftotext", "-layout", str(run_folder / "report.pdf"), "-"], check=True,
                                   capture_output=True, text=True, timeout=60).stdout.split())

    assert f"Game day evidence: run {data['run_id']}" in text and "localcloud, time profile fast" in text
    assert stack["template"] == "eip-self-healing/template.yaml"
    sent = (ROOT / "stacks" / stack["template"]).read_bytes()
    assert stack["template_file_sha256"] == hashlib.sha256(sent).hexdigest()
    assert stack["template_sha256"] in text and stack["template_file_sha256"] in text
    assert "HealthCheckGracePeriod" in text and "TTL" in text
    assert " ".join(mechanism_of("terminate-instance").split()[:8]) in text
    assert "inject" in text and "revert" in text and "reverted" in text  # timeline and journal
    assert f"Verdict: {scenario['verdict']}" in text


@pytest.mark.slow  # the game day behind run_folder: about 90 s on a busy machine
def test_gameday_report_prints_the_pdf_again(run_folder: Path) -> None:
    before = (run_folder / "report.pdf").stat().st_mtime_ns

    done = subprocess.run([sys.executable, "-m", "gameday", "report", str(run_folder)], cwd=ROOT, env=PDF_ON,
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-2000:]
    assert f"PDF report: {run_folder / 'report.pdf'}" in done.stdout
    assert (run_folder / "report.pdf").stat().st_mtime_ns > before


@pytest.fixture
def own_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary folder of this test alone, for Chromium's scratch folder and its TMPDIR, so what it leaves is
    told apart from what browsers of other tests, running at the same time, leave. Short, under /tmp: Chromium's
    singleton socket lives in it, and a Unix socket's path has at most 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="gd-pdf-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line[:200])
    return found


@pytest.fixture
def listener() -> Iterator[dict[str, Any]]:
    """An HTTP server on loopback that counts what reaches it."""
    seen: dict[str, Any] = {"requests": 0}

    class Count(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen["requests"] += 1
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Count)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_printing_fetches_nothing_and_leaves_nothing(own_tmp: Path, listener: dict[str, Any]) -> None:
    page = own_tmp / "page.html"
    page.write_text(f'<h1>offline</h1><img src="{listener["url"]}/pixel.png">'
                    f'<link rel="stylesheet" href="{listener["url"]}/style.css"><iframe src="{listener["url"]}/">')

    print_pdf(page, own_tmp / "page.pdf")

    assert (own_tmp / "page.pdf").read_bytes().startswith(b"%PDF")
    assert listener["requests"] == 0
    assert sorted(p.name for p in own_tmp.iterdir()) == ["page.html", "page.pdf"]  # its profile is gone
    assert processes_mentioning(str(own_tmp)) == []


def test_a_print_that_runs_over_is_killed_with_everything_it_started(own_tmp: Path) -> None:
    page = own_tmp / "page.html"
    page.write_text("<h1>slow</h1>")

    with pytest.raises(PdfError, match=r"did not print page.html within 0.2 s \(killed\)"):
        print_pdf(page, own_tmp / "page.pdf", timeout_s=0.2)

    # A killed Chromium cannot remove its singleton folder (org.chromium.*, in TMPDIR): print_pdf gives it a TMPDIR
    # of its own, removed with its profile.
    assert not list(own_tmp.rglob("org.chromium.*"))
    assert not (own_tmp / "page.pdf").exists()
    assert sorted(p.name for p in own_tmp.iterdir()) == ["page.html"]
    assert processes_mentioning(str(own_tmp)) == []


def test_a_browser_that_fails_is_one_error_with_its_reason(own_tmp: Path) -> None:
    fake = own_tmp / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'FATAL: cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    page = own_tmp / "page.html"
    page.write_text("<h1>x</h1>")

    with pytest.raises(PdfError, match="chromium exited 3 without printing page.html: FATAL: cannot open display"):
        print_pdf(page, own_tmp / "page.pdf", browser=str(fake))
    assert sorted(os.listdir(own_tmp)) == ["fake-chromium", "page.html"]
