"""gameday.debian: the Debian programs a local run needs, refused at start with one line naming the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gameday import debian
from gameday.errors import ConfigError
from gameday.resources import FILES

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_HINT = "haproxy not found: apt-get install haproxy (or run `make gameday`, which installs it)"


def _which(*present: str) -> Callable[[str], str | None]:
    return lambda program: f"/usr/sbin/{program}" if program in present else None


def test_every_local_run_needs_unbound_and_a_template_that_names_haproxy_needs_haproxy(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("Resources:\n  Web: {Type: AWS::EC2::Instance}\n")
    proxy = tmp_path / "proxy.yaml"
    proxy.write_text("UserData: |\n  command -v HAProxy || dnf install -y haproxy\n")

    assert debian.for_local_run([plain]) == debian.UNBOUND
    assert debian.for_local_run([plain, proxy]) == (*debian.UNBOUND, debian.HAPROXY)
    assert debian.HAPROXY in debian.for_local_run([FILES.stacks_dir / "static-ip-haproxy" / "template.yaml"])
    assert debian.HAPROXY not in debian.for_local_run([FILES.stacks_dir / "eip-self-healing" / "template.yaml"])


def test_a_missing_program_is_one_line_naming_its_package() -> None:
    needs = (*debian.UNBOUND, debian.HAPROXY)

    with pytest.raises(ConfigError) as refused:
        debian.require(needs, which=_which("unbound", "unbound-control"))

    assert str(refused.value) == HAPROXY_HINT
    with pytest.raises(ConfigError, match=r"^unbound-control not found: apt-get install unbound "):
        debian.require(needs, which=_which("unbound", "haproxy"))
    debian.require(needs, which=_which("unbound", "unbound-control", "haproxy"))


# --- through the front door: a PATH without the program, nothing started ---

def _path_without(tmp_path: Path, missing: str) -> str:
    """A PATH holding links to this machine's unbound, unbound-control and haproxy, less `missing`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("unbound", "unbound-control", "haproxy"):
        real = shutil.which(program)
        if program != missing and real is not None:
            (bin_dir / program).symlink_to(real)
    return str(bin_dir)


def _gameday(tmp_path: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PATH": path}, timeout=120)


def test_gameday_run_without_haproxy_refuses_its_stack_before_anything_starts(tmp_path: Path) -> None:
    reports = tmp_path / "reports"

    done = _gameday(tmp_path, _path_without(tmp_path, "haproxy"), "run", "--stack", "static-ip-haproxy",
                    "--report-dir", str(reports))

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"gameday run: error: {HAPROXY_HINT}"
    assert not reports.exists()  # no run folder, no child, no localcloud


def test_gameday_plan_local_without_unbound_refuses_before_localcloud_starts(tmp_path: Path) -> None:
    done = _gameday(tmp_path, _path_without(tmp_path, "unbound"), "plan", "--local", "eip-self-healing")

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("gameday plan: error: unbound not found: apt-get install unbound (or run "
                                   "`make gameday`, which installs it)")
    assert done.stdout == ""
