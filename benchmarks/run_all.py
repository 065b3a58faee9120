"""Run every benchmark module (benchmarks/<name>.py with a main()) as its own process; each writes
benchmarks/results/<name>.json. Run them on a quiet machine: the numbers are timing-sensitive.

    python -m benchmarks.run_all [NAME ...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all")
    failed = []
    for name in names:
        print(f"== benchmark {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks below their target: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
