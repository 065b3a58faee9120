"""Build step (setuptools, pyproject.toml's cmdclass): an installed gameday carries the checkout's `stacks/`
and `gameday.toml` inside the package, as `gameday/_bundled/`, where gameday.resources finds them.

Loaded by setuptools from the source tree at build time only; nothing at run time imports it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

# Kept equal to gameday.resources (BUNDLED, BUNDLED_FILES): setuptools loads this file alone, so it cannot
# import the gameday package, whose __init__ may need the runtime dependencies.
BUNDLED = "_bundled"
BUNDLED_FILES = ("stacks", "gameday.toml")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildPy(build_py):
    """build_py, then the checkout's bundled files copied into the build's gameday package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install runs from the checkout, files and all
            return
        source = Path(__file__).resolve().parent.parent
        target = Path(self.build_lib) / "gameday" / BUNDLED
        for name in BUNDLED_FILES:
            found = source / name
            if not found.exists():
                raise FileNotFoundError(f"{found}: gameday is built from its repository checkout (or a git URL), "
                                        f"which holds {' and '.join(BUNDLED_FILES)}")
            if found.is_dir():
                shutil.copytree(found, target / name, ignore=SKIPPED, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(found, target / name)
