"""Print a local HTML file to PDF with headless Chromium (Debian's `chromium`, or Chrome), offline.

Chromium runs in its own process group with a throwaway profile, bounded by a timeout and killed (the whole
group) when it runs over; the profile is removed whatever happens. It may read file:// only: DNS resolves
nothing, every other request goes to a proxy that does not exist, and the browser's own background traffic
(updates, first-run pings) is switched off.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from gameday.errors import SuiteError

log = logging.getLogger(__name__)

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "apt-get install chromium (make gameday installs it)"
FLAGS = (
    "--headless=new", "--no-sandbox",  # the sandbox needs a non-root user or user namespaces
    "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
    "--disable-breakpad", "--disable-crash-reporter", "--disable-domain-reliability", "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
    "--mute-audio", "--no-pdf-header-footer",
    # Offline: no name resolves, and any request (loopback too) goes to a discard port that refuses it.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
)


class PdfError(SuiteError):
    """Chromium could not print the document (it failed, or ran over its time)."""


def find_browser() -> str | None:
    """The first of chromium, chromium-browser, google-chrome on PATH."""
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def print_pdf(html: Path, pdf: Path, *, browser: str | None = None, timeout_s: float = 60.0) -> float:
    """Print `html` to `pdf` (replaced only when the print succeeds); returns the seconds it took."""
    browser = browser or find_browser()
    if browser is None:
        raise PdfError(f"no Chromium to print with (looked for {', '.join(BROWSERS)}); {INSTALL_HINT}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gameday-pdf-") as scratch:
        written = Path(scratch) / "out.pdf"
        profile = Path(scratch) / "profile"
        errors = Path(scratch) / "stderr"
        with errors.open("wb") as stderr:
            child = subprocess.Popen(
                [browser, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={written}", html.resolve().as_uri()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                # Its caches, crash dumps and singleton folder (org.chromium.*, in TMPDIR: a killed Chromium cannot
                # remove it) go in here, then away with the scratch folder.
                env={**os.environ, "HOME": scratch, "TMPDIR": scratch})
            try:
                code = child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                _kill_group(child)
        if code is None:
            raise PdfError(f"chromium did not print {html.name} within {timeout_s:g} s (killed)")
        if code != 0 or not written.is_file() or written.stat().st_size == 0:
            raise PdfError(f"chromium exited {code} without printing {html.name}: {_last_error(errors)}")
        shutil.move(written, pdf)
    took = time.monotonic() - started
    log.info("printed %s in %.1f s", pdf, took)
    return took


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """Whatever is left of the browser's process group (renderers, the zygote, the crash handler) goes too."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait()


def _last_error(errors: Path) -> str:
    """The last line Chromium wrote that is not its usual noise about D-Bus (absent in a container)."""
    lines = [line for line in errors.read_text(errors="replace").splitlines()
             if line.strip() and "dbus" not in line and "unexpected operator" not in line]
    return " ".join(lines[-1].split())[:200] if lines else "it said nothing"
