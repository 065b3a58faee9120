"""One game day's running state, gathered explicitly: the backend, the time profile, the run's folders and
report, the clock, budgets, the live progress stream and the load. `GameDay.run` plays one failover
scenario with the run's journal, budget, prediction and stop conditions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from gameday import budgets
from gameday.analysis import EVENT_PHASES, PHASE_ORDER, FailoverResult
from gameday.backends.base import Backend
from gameday.clients import CLIENT_PROBE_PREFIX, JVM_DNS_CACHE_S
from gameday.clock import Clock
from gameday.diagnosis import Diagnoser
from gameday.faults import Fault, RollbackJournal
from gameday.load import LoadController, LoadSettings
from gameday.model import Prediction
from gameday.reports import RunReport
from gameday.run import RunPaths
from gameday.scenario import FailoverRun, Judgement, ScenarioResult, WatchPolicy, run_failover, steady_timeout
from gameday.stacks import DeployedStack
from gameday.stopconditions import StopSpec
from gameday.timeline import Event, Timeline
from localcloud.profiles import Profile
from localcloud.timescale import scaled

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0


@dataclass
class GameDay:
    backend: Backend
    profile: Profile  # the profile budgets and predictions are judged against
    paths: RunPaths
    report: RunReport
    clock: Clock
    budgets_file: Path = budgets.DEFAULT_CONFIG
    progress: IO[str] | None = None
    load: LoadController = field(default_factory=lambda: LoadController(LoadSettings()))
    # Team kits' own budgets files by stack (ScenarioSpec.budgets): read when budgets_file names no such stack.
    kit_budgets: dict[str, Path] = field(default_factory=dict)
    # The deployed stacks of the scenario being played (set by `kits.play`): where a steady state that never
    # comes looks for its cause.
    in_play: tuple[DeployedStack, ...] = ()

    def new_timeline(self, stack_id: str, scenario: str) -> Timeline:
        return Timeline(self.paths.run_id, self.clock.now(), self.clock.monotonic(),
                        labels={"backend": self.backend.name, "profile": self.profile.name,
                                "stack": stack_id, "scenario": scenario})

    def budget(self, stack_id: str, key: str, scenario: str) -> float:
        """The budget for `key` (a fault's name, or a measure such as failback), a scenario's own first."""
        return budgets.budget_for(stack_id, key, self.profile.name,
                                  budgets.budget_file(stack_id, self.budgets_file, self.kit_budgets.get(stack_id)),
                                  scenario=scenario)

    def run(self, *, stack_id: str, scenario: str, fault: Fault, probes: Sequence[Any], primary_probe: str,
            budget_key: str | None = None, prediction: Prediction | None = None, stop: StopSpec | None = None,
            timeline: Timeline | None = None, policy: WatchPolicy | None = None,
            load: Callable[[Timeline], AbstractContextManager[Any]] | None = None,
            judge: Callable[[FailoverRun, FailoverResult, float], Judgement] | None = None,
            dns_target: Sequence[str] | None = None, steady_probes: Sequence[str] = (),
            ready_probes: Sequence[str] = (), record: bool = True) -> ScenarioResult:
        """Run one failover scenario. `record=False`: the caller reports (e.g. one result per variant out of
        one shared run)."""
        budget = self.budget(stack_id, budget_key or fault.name, scenario)
        run = FailoverRun(
            backend=self.backend, stack_id=stack_id, scenario=scenario, fault=fault, probes=probes,
            primary_probe=primary_probe, budget_s=budget, prediction=prediction,
            journal=RollbackJournal(self.paths.journal),
            timeline=timeline or self.new_timeline(stack_id, scenario), clock=self.clock,
            policy=_bounded(policy or WatchPolicy(watch_timeout_s=max(3 * budget, budget + 30)), self.profile),
            load=load, judge=judge, dns_target=dns_target, steady_probes=steady_probes,
            stop_conditions=stop.conditions(self.backend, budget) if stop else (),
            progress=ProgressWriter(self.progress, stack_id, scenario, primary_probe, self.backend),
            profile=self.profile.name, ready_probes=ready_probes,
            diagnoser=Diagnoser(self.backend, self.in_play) if self.in_play else None,
        )
        result = run_failover(run)
        if record:
            self.report.scenarios.append(result)
        return result

    def load_for(self, url: str, scenario: str) -> Callable[[Timeline], AbstractContextManager[Any]]:
        """Load against `url` while the scenario runs (nothing when the run has no --load)."""
        return lambda timeline: self.load.running(url, self.paths.folder / scenario, timeline)


def _bounded(policy: WatchPolicy, profile: Profile) -> WatchPolicy:
    """The policy with the profile's steady-state bound where it names none of its own, and the client profiles'
    DNS cache at the profile's pace (as the record TTLs it is weighed against)."""
    if policy.client_dns_cache_s == JVM_DNS_CACHE_S:
        policy = replace(policy, client_dns_cache_s=scaled(profile, "route53.record_ttl", JVM_DNS_CACHE_S))
    if policy.steady_timeout_s is not None:
        return policy
    return replace(policy, steady_timeout_s=steady_timeout(profile))


class ProgressWriter:
    """Writes the live state of the scenario being watched, at most once a second."""

    def __init__(self, stream: IO[str] | None, stack_id: str, scenario: str, probe: str,
                 backend: Backend | None = None) -> None:
        self.stream, self.stack_id, self.scenario, self.probe = stream, stack_id, scenario, probe
        self.backend = backend  # its ground truth (localcloud) names the phases while they happen
        self.last = 0.0

    def __call__(self, timeline: Timeline, fault_at: float) -> None:
        now = time.monotonic()
        if self.stream is None or now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        samples, events = timeline.snapshot()
        after = [s for s in samples if s.at >= fault_at]
        events = [*events, *self._ground_truth(fault_at)]
        reached = sorted({EVENT_PHASES[e.kind] for e in events if e.kind in EVENT_PHASES and e.at >= fault_at},
                         key=PHASE_ORDER.index)  # the furthest phase, whatever order the events came in
        primary = [s for s in after if s.probe == self.probe]
        if primary and any(not s.good for s in primary):
            reached.append("serving again" if primary[-1].good else f"{reached[-1] if reached else 'fault'} (outage)")
        line = {"stack": self.stack_id, "scenario": self.scenario, "since_fault_s": round(time.time() - fault_at, 1),
                "phase": reached[-1] if reached else "fault", "samples": len(samples),
                "errors": sum(not s.good for s in after if not s.probe.startswith(CLIENT_PROBE_PREFIX))}
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def _ground_truth(self, since: float) -> list[Event]:
        if self.backend is None:
            return []
        try:
            return self.backend.ground_truth(since)
        except Exception:  # noqa: BLE001 - progress is cosmetic; the analysis reads ground truth again
            return []
