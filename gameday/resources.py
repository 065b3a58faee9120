"""Where gameday's own files are, whether it runs from a checkout or from an installed copy.

An install (`pip install <path or git URL>`) copies the checkout's `stacks/` and `gameday.toml` into the
package as `gameday/_bundled/` (gameday/_build.py); the packages `scenarios`, `loadtest` and `fixtures` sit
beside `gameday` either way. Everything that needs one of these files asks `FILES`, nothing else looks for
files relative to a module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

BUNDLED = "_bundled"
BUNDLED_FILES = ("stacks", "gameday.toml")  # what an install copies from the checkout's root into BUNDLED


@dataclass(frozen=True)
class Resources:
    """The folders gameday's files are in. `checkout` is the repository it runs from, None when installed."""

    top: Path  # holds the packages gameday, scenarios, loadtest and fixtures (a checkout or site-packages)
    data: Path  # holds stacks/ and gameday.toml
    checkout: Path | None

    @classmethod
    def of(cls, package: Path) -> Resources:
        """The files of the `gameday` package in `package`: bundled into it (installed), else its checkout's."""
        bundled = package / BUNDLED
        if bundled.is_dir():
            return cls(package.parent, bundled, None)
        return cls(package.parent, package.parent, package.parent)

    @property
    def stacks_dir(self) -> Path:
        """The reference stacks' templates and READMEs, one folder per stack id."""
        return self.data / "stacks"

    @property
    def default_config(self) -> Path:
        """The default budgets file (gameday.toml)."""
        return self.data / "gameday.toml"

    @property
    def scenarios_dir(self) -> Path:
        """The pytest modules `gameday run` hands its children, one per reference stack and one for a team's."""
        return self.top / "scenarios"

    @property
    def locustfile(self) -> Path:
        return self.top / "loadtest" / "locustfile.py"

    def child_cwd(self, fallback: Path) -> Path:
        """Where a child process runs: the checkout (as `make` does), else `fallback`."""
        return self.checkout if self.checkout is not None else fallback

    def child_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` for a Python child that imports gameday: from a checkout, its root first on PYTHONPATH (an
        installed copy is on the interpreter's path already)."""
        child = dict(env)
        if self.checkout is not None:
            child["PYTHONPATH"] = os.pathsep.join([str(self.checkout), *filter(None, [env.get("PYTHONPATH")])])
        return child


FILES = Resources.of(Path(__file__).resolve().parent)
