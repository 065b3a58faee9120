"""What the suite's game days leave out (report.pdf), and an order for xdist's `--dist loadgroup`.

With `--dist loadgroup --no-loadscope-reorder` (not `make test`'s default: in that order two localcloud
modules fail in a fresh clone, see the Makefile): a module's tests stay together on one worker (its module
fixtures, such as a localcloud, start once), except in the modules of SPLIT_PER_TEST, whose tests each play
their own game day and run side by side. The groups go out longest first, by the durations last measured
(tests/durations.json, written by `python -m tests.durations JUNIT.xml`), so that no long module starts last
and keeps one worker busy alone at the end. Without loadgroup (a single test, plain `pytest`), nothing is
regrouped or reordered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
# A test the durations file does not know yet: by where it lives (integration tests start a localcloud).
UNKNOWN_S = {"tests/integration/": 8.0, "tests/localcloud/": 2.0}
UNKNOWN_OTHER_S = 0.3
# Modules whose tests each play their own game day or start their own processes (no costly module fixture to share):
# each test is its own group, so their minutes spread over the workers instead of queueing on one.
SPLIT_PER_TEST = (
    "tests/integration/test_aws_path.py",
    "tests/integration/test_gameday_run.py",
    "tests/integration/test_rollback_sigkill.py",
    "tests/integration/test_run_interrupt.py",
    "tests/integration/test_team_kit.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Dozens of game days are played here; report.pdf is printed and checked in tests/integration/test_report_pdf.py.
    os.environ.setdefault("GAMEDAY_PDF", "off")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the group marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _loadgroup(config):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(item.nodeid if module in SPLIT_PER_TEST else module))
    known = _known_durations()
    weight: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        group = group_of(item)
        weight[group] = weight.get(group, 0.0) + known.get(item.nodeid, _unknown(item.nodeid))
        first.setdefault(group, index)
    # Every worker sorts the same way, so their collections stay identical (xdist checks that).
    items.sort(key=lambda item: (-weight[group_of(item)], first[group_of(item)]))


def group_of(item: pytest.Item) -> str:
    """The scope xdist's loadgroup uses: the item's group names, sorted and joined."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
    return "_".join(sorted(names))


def _loadgroup(config: pytest.Config) -> bool:
    try:
        return bool(config.getvalue("loadgroup"))
    except (AttributeError, ValueError):
        return False


def _known_durations() -> dict[str, float]:
    try:
        data = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.get("seconds", {}).items()}


def _unknown(nodeid: str) -> float:
    return next((s for prefix, s in UNKNOWN_S.items() if nodeid.startswith(prefix)), UNKNOWN_OTHER_S)
