"""How `gameday run` shares its scenarios out among pytest children: one child per stack, or per scenario, or
(`--split auto`) a stack whose scenarios in a row would outlast the others split into a few children, each
deploying its own copy, so that the game day ends when its longest child does, not its longest stack.
Children start longest first, timed by the newest earlier report of the same backend and time profile."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.kits import ScenarioSpec

# What a child costs before its first scenario: pytest, its localcloud, the deploy and the steady state
# (13-16 s per stack under the fast profile on a 2-core host); a scenario no report has timed yet.
CHILD_START_S = 15.0
UNTIMED_S = 30.0


@dataclass(frozen=True)
class Unit:
    """One pytest child: a stack's scenarios (all of them, or some with `-k`)."""

    name: str
    stack: str
    specs: tuple[ScenarioSpec, ...]
    whole_stack: bool  # every selected scenario of its stack: no -k of its own
    estimate_s: float


def plan_units(specs: Sequence[ScenarioSpec], stacks: Sequence[str], split: str, jobs: int,
               timed: Mapping[str, float]) -> list[Unit]:
    """The children, longest first. `timed`: scenario id -> seconds it took last time (see `timed_scenarios`)."""
    by_stack = {stack: [s for s in specs if s.stack_id == stack] for stack in stacks}
    by_stack = {stack: chosen for stack, chosen in by_stack.items() if chosen}

    def took(spec: ScenarioSpec) -> float:
        return timed.get(spec.scenario_id, UNTIMED_S)

    chains = {stack: CHILD_START_S + sum(took(s) for s in chosen) for stack, chosen in by_stack.items()}
    # No child need be longer than an even share of the work, nor can one be shorter than its longest scenario.
    share = max(sum(chains.values()) / max(jobs, 1), max((CHILD_START_S + took(s) for s in specs), default=0.0))
    units: list[Unit] = []
    for stack, chosen in by_stack.items():
        chain = chains[stack]
        pieces = 1 if split == "stack" else len(chosen) if split == "scenario" else min(
            len(chosen), math.ceil(chain / share - 0.05))  # a few per cent over the share is not worth a deploy
        if pieces == 1 and split != "scenario":
            units.append(Unit(stack, stack, tuple(chosen), True, chain))
            continue
        for index, group in enumerate(_pack(chosen, pieces, took)):
            name = f"{stack}.{group[0].name}" if split == "scenario" else f"{stack}.{index + 1}"
            units.append(Unit(name, stack, tuple(group), False, CHILD_START_S + sum(took(s) for s in group)))
    return sorted(units, key=lambda u: u.estimate_s, reverse=True)


def _pack(specs: Sequence[ScenarioSpec], bins: int, took: Callable[[ScenarioSpec], float]) -> list[list[ScenarioSpec]]:
    """Longest scenario into the emptiest group, in the kit's order within each group."""
    groups: list[list[ScenarioSpec]] = [[] for _ in range(bins)]
    loads = [0.0] * bins
    for spec in sorted(specs, key=took, reverse=True):
        emptiest = loads.index(min(loads))
        groups[emptiest].append(spec)
        loads[emptiest] += took(spec)
    order = {spec.scenario_id: i for i, spec in enumerate(specs)}
    return [sorted(group, key=lambda s: order[s.scenario_id]) for group in groups if group]


def timed_scenarios(reports_dir: Path, backend: str, profile: str) -> dict[str, float]:
    """Scenario id -> seconds from its timeline's start to its last sample, from the newest report.json in
    `reports_dir` of this backend and profile that was not interrupted; empty when there is none."""
    for report in sorted(reports_dir.glob("*/report.json"), reverse=True)[:20]:  # run ids sort by time
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            continue
        if data.get("backend") != backend or data.get("profile") != profile or data.get("interrupted"):
            continue
        timed: dict[str, float] = {}
        for row in data.get("scenarios", []):
            samples = (row.get("timeline") or {}).get("samples") or []
            if not samples or "sent_mono" not in samples[-1]:
                continue
            key = f"{row['stack']}/{row['timeline']['labels'].get('scenario', row['scenario'])}"
            timed[key] = max(timed.get(key, 0.0), float(samples[-1]["sent_mono"]))
        return timed
    return {}
