"""What the suite's game days leave out (report.pdf), and how `make test` spreads the tests over xdist's workers.

With `--dist loadscope` (as `make test` runs), the scheduler is `LongestFirst` below rather than xdist's own:
a module's tests stay together on one worker (its module fixtures, such as a localcloud and a deployed stack,
start once), except in the modules of SPLIT_PER_TEST, whose tests each play their own game day and run side by
side. The units go out longest first, by the durations last measured (tests/durations.json, written by
`python -m tests.durations JUNIT.xml`), so that no long unit starts last and keeps one worker busy alone at the
end; a worker still busy with a long test is given the shortest unit to queue behind it, not the next long one.

Why not xdist's `--dist loadgroup`: with pytest 9.2 it no longer groups anything. xdist names a test's group by
rewriting `item._nodeid`, which pytest 9.2's `Node.nodeid` no longer reads (pytest-xdist issue #1386), so every
test became its own unit, a module's fixtures started again on every worker, and tests that lean on an earlier
test of their module ran without it. Without xdist (a single test, plain `pytest`), nothing is reordered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from xdist.scheduler import LoadScopeScheduling

DURATIONS = Path(__file__).with_name("durations.json")
# A test the durations file does not know yet: by where it lives (integration tests start a localcloud).
UNKNOWN_S = {"tests/integration/": 8.0, "tests/localcloud/": 2.0}
UNKNOWN_OTHER_S = 0.1
# Modules whose tests each play their own game day or start their own processes (no costly module fixture to share):
# each test is its own unit, so their minutes spread over the workers instead of queueing on one.
SPLIT_PER_TEST = (
    "tests/integration/test_aws_path.py",
    "tests/integration/test_gameday_run.py",
    "tests/integration/test_rollback_sigkill.py",
    "tests/integration/test_run_interrupt.py",
    "tests/integration/test_team_kit.py",
)
# A worker with more than this still to run (by the durations) is given the shortest unit waiting: xdist sends a
# worker its next unit before the last test of the current one starts, and a long unit queued there would wait.
QUEUE_BEHIND_S = 20.0


def pytest_configure(config: pytest.Config) -> None:
    # Dozens of game days are played here; report.pdf is printed and checked in tests/integration/test_report_pdf.py.
    os.environ.setdefault("GAMEDAY_PDF", "off")


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or the test itself in a SPLIT_PER_TEST module."""
    module = nodeid.split("::", 1)[0]
    return nodeid if module in SPLIT_PER_TEST else module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _longest_first(config):
        return
    known = _known_durations()
    weight: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        unit = unit_of(item.nodeid)
        weight[unit] = weight.get(unit, 0.0) + known.get(item.nodeid, _unknown(item.nodeid))
        first.setdefault(unit, index)
    # Every worker sorts the same way, so their collections stay identical (xdist checks that); the scheduler
    # takes the units in this order.
    items.sort(key=lambda item: (-weight[unit_of(item.nodeid)], first[unit_of(item.nodeid)]))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, in the controller: tell each worker whether to sort its collection (a worker's own `dist` is "no")."""
    node.workerinput["gameday_longest_first"] = _longest_first(node.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    if not _longest_first(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LongestFirst(LoadScopeScheduling):
        """xdist's scope scheduling with our units, in the collection's order (longest first)."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            pending = [nodeid for unit in self.assigned_work.get(node, {}).values()
                       for nodeid, done in unit.items() if not done]
            if sum(known.get(n, _unknown(n)) for n in pending) > QUEUE_BEHIND_S and len(self.workqueue) > 1:
                shortest = next(reversed(self.workqueue))
                self.workqueue.move_to_end(shortest, last=False)
            super()._assign_work_unit(node)

    known = _known_durations()
    config.option.loadscopereorder = False  # the order is the collection's: longest first
    return LongestFirst(config, log)


def _longest_first(config: pytest.Config) -> bool:
    """`--dist loadscope`: asked of the controller, or of a worker (told by the controller, see above)."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        return bool(worker.get("gameday_longest_first"))
    try:
        return bool(config.getvalue("dist") == "loadscope")
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
