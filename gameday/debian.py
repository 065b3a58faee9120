"""The Debian programs a run on localcloud uses for real, checked before anything starts.

localcloud answers DNS through unbound (always); a stack whose template names HAProxy runs it in its user
data; headless Chromium prints report.pdf and nothing else needs it. `make gameday` installs them; an
installed gameday only says which one is missing and how to get it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import ConfigError


@dataclass(frozen=True)
class Need:
    """A program the run calls: the Debian package that has it, and what it is for."""

    program: str
    package: str
    why: str

    def hint(self) -> str:
        return f"{self.program} not found: apt-get install {self.package} (or run `make gameday`, which installs it)"


UNBOUND = (Need("unbound", "unbound", "localcloud's caching resolver"),
           Need("unbound-control", "unbound", "localcloud adds and removes zones with it"))
HAPROXY = Need("haproxy", "haproxy", "a stack's user data runs it")
CHROMIUM = (Need("chromium", "chromium", "report.pdf"), Need("chromium-browser", "chromium", "report.pdf"))
# A template that names one of these runs it (its user data does, on localcloud's host).
RUN_BY_TEMPLATES = {"haproxy": HAPROXY}


def for_local_run(templates: Iterable[Path]) -> tuple[Need, ...]:
    """What a run on localcloud of stacks with these templates needs: unbound, and what the templates run."""
    needs = list(UNBOUND)
    texts = [_text(t) for t in templates]
    needs += [need for word, need in RUN_BY_TEMPLATES.items() if any(word in text for text in texts)]
    return tuple(needs)


def missing(needs: Iterable[Need], which: Callable[[str], str | None] = shutil.which) -> list[Need]:
    return [need for need in needs if which(need.program) is None]


def require(needs: Iterable[Need], which: Callable[[str], str | None] = shutil.which) -> None:
    """ConfigError (one line, exit 2) naming the first program not on PATH and the package that has it."""
    absent = missing(needs, which)
    if absent:
        raise ConfigError(absent[0].hint())


def pdf_printer(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The hint when no Chromium can print report.pdf (the game day runs without it), else None."""
    return None if any(which(need.program) for need in CHROMIUM) else CHROMIUM[0].hint()


def _text(template: Path) -> str:
    try:
        return template.read_text(errors="replace").lower()
    except OSError:
        return ""  # a template that cannot be read is reported by the deploy, with its path
