"""The repository stands on its own: no tracked file points outside it at the shared reference notes, and
every timing citation names the in-repo docs/aws-timings.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()
FORBIDDEN = re.compile(r"shared/reference|\.\./shared|(?<!docs/)aws-timings §|moto-findings")


def test_no_reference_outside_the_repository() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    offenders = []
    for name in files.decode().split("\0"):
        path = ROOT / name
        if not name or name == SELF or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        offenders += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}" for m in FORBIDDEN.finditer(text)]
    assert not offenders, "cite docs/aws-timings.md §N instead:\n" + "\n".join(offenders)
