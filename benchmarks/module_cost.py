"""A pytest plugin that records what each test module costs: wall time and CPU time (the test process and the
children it reaped, such as a module's localcloud), one JSON line per module per worker.

    GAMEDAY_MODULE_COST=/tmp/cost.jsonl python -m pytest -p benchmarks.module_cost -n 6 --dist loadscope tests
    python -m benchmarks.module_cost /tmp/cost.jsonl      # the table, costliest first

CPU of a child process counts once it has been waited for, so a module's localcloud is charged to the module whose
last test stops it. Used to decide which tests to make cheaper (issue 18: `make test` within 6 minutes).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

OUTPUT = "GAMEDAY_MODULE_COST"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
    wall, cpu = time.monotonic(), _cpu()
    yield
    path = os.environ.get(OUTPUT)
    if not path:
        return
    record = {"module": item.nodeid.split("::", 1)[0], "test": item.nodeid,
              "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
              "wall_s": round(time.monotonic() - wall, 3), "cpu_s": round(_cpu() - cpu, 3)}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def table(path: Path) -> list[tuple[str, int, float, float]]:
    modules: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        entry = modules.setdefault(record["module"], [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += record["wall_s"]
        entry[2] += record["cpu_s"]
    return sorted(((m, int(n), w, c) for m, (n, w, c) in modules.items()), key=lambda row: -row[3])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.module_cost COST.jsonl", file=sys.stderr)
        return 2
    rows = table(Path(argv[0]))
    print(f"{'cpu s':>8} {'wall s':>8} {'tests':>5}  module")
    for module, count, wall, cpu in rows:
        print(f"{cpu:8.1f} {wall:8.1f} {count:5d}  {module}")
    print(f"{sum(r[3] for r in rows):8.1f} {sum(r[2] for r in rows):8.1f} {sum(r[1] for r in rows):5d}  total")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except BrokenPipeError:  # piped into head
        raise SystemExit(0) from None
