"""Record how long each test took (from a JUnit XML of a `make test` run) in tests/durations.json, the weights
tests/conftest.py orders the xdist groups by. Only tests of half a second or more are kept; the rest weigh by
where they live.

    .venv/bin/python -m pytest -n 6 --dist loadscope --junitxml=/tmp/j.xml tests
    .venv/bin/python -m tests.durations /tmp/j.xml
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATIONS = Path(__file__).with_name("durations.json")
KEEP_FROM_S = 0.5


def nodeid(classname: str, name: str) -> str | None:
    """tests.integration.test_x[.Class] + name -> tests/integration/test_x.py[::Class]::name."""
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if (ROOT / path).is_file():
            return "::".join([path, *parts[cut:], name])
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.durations JUNIT.xml", file=sys.stderr)
        return 2
    seconds: dict[str, float] = {}
    for case in ET.parse(argv[0]).iter("testcase"):
        node = nodeid(case.get("classname", ""), case.get("name", ""))
        took = float(case.get("time") or 0.0)
        if node and took >= KEEP_FROM_S:
            seconds[node] = round(seconds.get(node, 0.0) + took, 1)
    DURATIONS.write_text(json.dumps({"measured": time.strftime("%Y-%m-%d", time.gmtime()),
                                     "note": "seconds per test from one `make test` run; weights, not limits",
                                     "seconds": dict(sorted(seconds.items()))}, indent=1) + "\n")
    print(f"{DURATIONS}: {len(seconds)} tests of {KEEP_FROM_S} s or more, {sum(seconds.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
