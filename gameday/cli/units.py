"""How `gameday run` shares its scenarios out among pytest children: one child per stack, or per scenario, or
(`--split auto`) a stack whose scenarios in a row would outlast the others split into a few children, each
deploying its own copy, so that the game day ends when its longest child does, not its longest stack.
Children start longest first, timed by the newest earlier report of the same backend and time profile."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.kits import ScenarioSpec

# What a child costs besides its scenarios' timelines (pytest, its localcloud, the deploy, reverts, the
# teardown) when no report has measured it for that stack: 10-45 s per stack under the fast profile here.
CHILD_START_S = 15.0
UNTIMED_S = 30.0  # a scenario no report has timed yet
MAX_CUTS = 4096  # ways to cut the stacks into children worth trying one by one
RECENT_REPORTS = 10  # how far back a scenario's last passing time is looked for
CHILD_TIME = re.compile(r" in ([\d.]+)s")  # pytest's last line: "5 passed, 4 deselected in 162.90s (0:02:42)"


@dataclass(frozen=True)
class Timings:
    """What earlier runs measured: scenario id -> seconds of its timeline; stack -> what a child of it costs
    besides its scenarios."""

    scenarios: Mapping[str, float] = field(default_factory=dict)
    child_start: Mapping[str, float] = field(default_factory=dict)

    def took(self, spec: ScenarioSpec) -> float:
        return self.scenarios.get(spec.scenario_id, UNTIMED_S)

    def start(self, stack: str) -> float:
        return self.child_start.get(stack, CHILD_START_S)


@dataclass(frozen=True)
class Unit:
    """One pytest child: a stack's scenarios (all of them, or some with `-k`)."""

    name: str
    stack: str
    specs: tuple[ScenarioSpec, ...]
    whole_stack: bool  # every selected scenario of its stack: no -k of its own
    estimate_s: float


def plan_units(specs: Sequence[ScenarioSpec], stacks: Sequence[str], split: str, jobs: int,
               timings: Timings) -> list[Unit]:
    """The children, longest first. Under `auto`, each stack with several scenarios is cut into as many children
    as gives the shortest game day when `jobs` run at a time, longest first (each cut costs a deploy)."""
    by_stack = {stack: [s for s in specs if s.stack_id == stack] for stack in stacks}
    by_stack = {stack: chosen for stack, chosen in by_stack.items() if chosen}
    if split != "auto":
        return _cut(by_stack, {stack: len(chosen) if split == "scenario" else 1 for stack, chosen in by_stack.items()},
                    timings, per_scenario=split == "scenario")
    options = [range(1, len(chosen) + 1) for chosen in by_stack.values()]
    if math.prod(len(o) for o in options) > MAX_CUTS:  # too many to try: one child per stack
        options = [range(1, 2) for _ in options]
    best: list[Unit] = []
    for pieces in itertools.product(*options):
        units = _cut(by_stack, dict(zip(by_stack, pieces, strict=True)), timings, per_scenario=False)
        if not best or (_makespan(units, jobs), len(units)) < (_makespan(best, jobs), len(best)):
            best = units
    return best


def _cut(by_stack: Mapping[str, list[ScenarioSpec]], pieces: Mapping[str, int], timings: Timings,
         per_scenario: bool) -> list[Unit]:
    units: list[Unit] = []
    for stack, chosen in by_stack.items():
        if pieces[stack] == 1 and not per_scenario:
            units.append(Unit(stack, stack, tuple(chosen), True,
                              timings.start(stack) + sum(timings.took(s) for s in chosen)))
            continue
        for index, group in enumerate(_pack(chosen, pieces[stack], timings.took)):
            name = f"{stack}.{group[0].name}" if per_scenario else f"{stack}.{index + 1}"
            units.append(Unit(name, stack, tuple(group), False,
                              timings.start(stack) + sum(timings.took(s) for s in group)))
    return sorted(units, key=lambda u: u.estimate_s, reverse=True)


def _makespan(units: Sequence[Unit], jobs: int) -> float:
    """When the last child ends if they start longest first, each as soon as one of `jobs` slots is free."""
    slots = [0.0] * max(1, jobs)
    for unit in units:  # already longest first
        heapq.heappush(slots, heapq.heappop(slots) + unit.estimate_s)
    return max(slots)


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


def measured_timings(reports_dir: Path, backend: str, profile: str) -> Timings:
    """From the newest reports in `reports_dir` of this backend and profile: each scenario's timeline (start to
    last sample) when it last passed, and each stack's child cost (a child's pytest time, from its log, less its
    scenarios' timelines). A failed or cut-short run times nothing."""
    scenarios: dict[str, float] = {}
    starts: dict[str, float] = {}
    for report in sorted(reports_dir.glob("*/report.json"), reverse=True)[:RECENT_REPORTS]:  # ids sort by time
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            continue
        if data.get("backend") != backend or data.get("profile") != profile or data.get("interrupted"):
            continue
        found = _scenario_times(data)
        for stack, cost in _child_costs(report.parent / "parts", found).items():
            starts.setdefault(stack, cost)  # the newest report's wins
        scenarios = {**found, **scenarios}
    return Timings(scenarios, starts)


def _scenario_times(data: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for row in data.get("scenarios", []):
        took = _timeline_seconds(row.get("timeline") or {})
        if row.get("verdict") != "passed" or took is None:
            continue
        key = f"{row['stack']}/{row['timeline'].get('labels', {}).get('scenario', row['scenario'])}"
        found[key] = max(found.get(key, 0.0), took)  # variants: the slowest
    return found


def _timeline_seconds(timeline: Mapping[str, Any]) -> float | None:
    """Start to last sample: the pointer's `duration_s` (report.json keeps the raw timeline in a file), or the last
    inline sample of an older report."""
    if isinstance(timeline.get("duration_s"), int | float):
        return float(timeline["duration_s"])
    samples = timeline.get("samples") or []
    return float(samples[-1]["sent_mono"]) if samples and "sent_mono" in samples[-1] else None


def _child_costs(parts: Path, found: Mapping[str, float]) -> dict[str, float]:
    """Stack -> the least any of its children spent outside its scenarios' timelines."""
    costs: dict[str, float] = {}
    for progress in parts.glob("*.progress.jsonl"):
        log = progress.with_name(progress.name.replace(".progress.jsonl", ".log"))
        lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        took = CHILD_TIME.search(lines[-1]) if lines else None
        rows = [json.loads(line) for line in progress.read_text().splitlines() if line.strip()]
        played = {f"{r['stack']}/{r['scenario']}" for r in rows}
        if not took or not played or not all(p in found for p in played):
            continue
        stack = rows[0]["stack"]
        cost = max(0.0, float(took.group(1)) - sum(found[p] for p in played))
        costs[stack] = min(costs.get(stack, cost), cost)
    return costs
