"""Several faults injected as one: a comparison that breaks each variant of a stack at the same moment,
or a condition plus the fault that meets it (no Spot capacity, then the instance goes).

One journal entry holds every part's revert (written before anything is injected); the revert runs
them all, last first. Every part's revert is idempotent, so reverting a part that was never injected
(an inject failed half-way) is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults.plan import FaultPlan, RevertAction

if TYPE_CHECKING:  # base imports the reverts, which import this module's revert
    from gameday.faults.base import Fault

KIND = "composite"


@dataclass
class CompositeFault:
    """`parts` injected in order; `injected_at[i]` is when part i was (epoch seconds)."""

    parts: Sequence[Fault]
    name: str = ""
    injected_at: list[float] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not self.parts:
            raise FaultError("a composite fault needs at least one part")
        self.name = self.name or self.parts[0].name

    @property
    def target(self) -> str:
        return ", ".join(part.target for part in self.parts)

    def plan(self) -> FaultPlan:
        plans = [part.plan() for part in self.parts]
        reverts = [{"kind": p.revert.kind, "params": dict(p.revert.params)} for p in plans]
        revert = RevertAction(KIND, {"reverts": reverts}, "; ".join(p.revert.description for p in plans))
        return FaultPlan(self.name, tuple(t for p in plans for t in p.targets),
                         "; ".join(p.action for p in plans), revert)

    def inject(self) -> None:
        self.injected_at.clear()
        for part in self.parts:
            part.inject()
            self.injected_at.append(time.time())

    def stop(self) -> None:
        """Every part that takes later steps takes no more (see `injected`)."""
        for part in self.parts:
            stop = getattr(part, "stop", None)
            if callable(stop):
                stop()


def revert_composite(backend: Backend, params: Mapping[str, Any]) -> None:
    """Every part's revert, last first; the first failure is raised after all were tried."""
    from gameday.faults.reverts import run_revert

    failures: list[Exception] = []
    for part in reversed(list(params.get("reverts", []))):
        try:
            run_revert(backend, str(part["kind"]), dict(part.get("params", {})))
        except Exception as exc:  # the others must still run
            failures.append(exc)
    if failures:
        raise failures[0]
