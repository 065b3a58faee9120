"""The Debian programs a run on localcloud uses for real, checked before anything starts.

localcloud answers DNS through unbound (always); a stack whose template names HAProxy runs it in its user
data. `make gameday` installs them; an installed gameday says which one is missing and how to get it. (Chromium
only prints report.pdf: gameday.reports.pdf looks for it and a run without it skips the PDF, not the game day.)
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


def _text(template: Path) -> str:
    try:
        return template.read_text(errors="replace").lower()
    except OSError:
        return ""  # a template that cannot be read is reported by the deploy, with its path
