"""FIS experiments that act, as a cloud Service: the patches on moto's FIS and each experiment's run.

moto stores an experiment and lets its state advance by itself (straight to `completed`). Patched here:
StartExperiment answers `initiating` and hands the experiment to a worker that resolves its targets and
starts its actions (`running`); each action completes after its own time, the experiment when all have
(`completed`). StopExperiment ends the actions that last (`stopping`, then `stopped`). An action localcloud
does not know, a target it cannot resolve or a bad parameter fails the experiment, the reason in its
state, as FIS does.

The experiment's roleArn is accepted as given: localcloud enforces no IAM, so FIS's check that it may
assume the role and that the role may act on the targets is not made here.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localcloud.cloud import LocalCloud, ServiceSpec
from localcloud.ec2.spot import LEAD_DELAY
from localcloud.fis.actions import ACTIONS, AWS_NOTICE_S, ActionFailed, Physics, Started, nothing
from localcloud.fis.targets import TargetError, resolve
from localcloud.patching import Patches

log = logging.getLogger(__name__)

FIS_EXPERIMENT = "localcloud.fis.experiment"  # event: an experiment changed state (detail: status, reason)
ENDED = frozenset({"completed", "stopped", "failed"})
REASONS = {"initiating": "Experiment is initiating.", "running": "Experiment is running.",
           "completed": "Experiment completed.", "stopping": "Experiment is stopping.",
           "stopped": "Experiment stopped."}


def fis_services() -> list[ServiceSpec]:
    """FIS experiments that act on the cloud (StartExperiment, StopExperiment)."""
    return [ServiceSpec("fis", FisService)]


@dataclass
class _Action:
    status: str = "pending"
    reason: str = "Action is pending."
    started: Started | None = None


@dataclass
class _Run:
    experiment: Any  # moto's Experiment
    status: str = "initiating"
    reason: str = REASONS["initiating"]
    actions: dict[str, _Action] = field(default_factory=dict)


class FisService:
    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localcloud-fis")
        self._patches = Patches("localcloud.fis")
        self._lock = threading.Lock()  # _runs and every run's states: request threads, the worker, the loop
        self._runs: dict[str, _Run] = {}

    # --- Service ---

    def start(self) -> None:
        physics = self._cloud.physics
        self._physics = Physics(
            interrupt=lambda instance_id, lead: self._cloud.loop.call(
                lambda: physics.spot.interrupt(instance_id, lead).lead_seconds),
            capacity=physics.capacity,
            notice_scale=self._cloud.profile.delay(LEAD_DELAY).mean / AWS_NOTICE_S)
        self._plan()
        self._patches.install()

    def stop(self) -> None:
        self._patches.uninstall()
        self._worker.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            lasting = [a.started for run in self._runs.values() for a in run.actions.values()
                       if a.status == "running" and a.started is not None]
        for started in lasting:  # the capacity table outlives nothing, but a test's cloud may keep running
            started.end()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"experiments": {run.experiment.id: run.status for run in self._runs.values()}}

    # --- experiments (request threads) ---

    def begin(self, experiment: Any) -> Callable[[], None]:
        """Take the experiment on (`initiating`); the returned call sets it going, once its answer is written."""
        with self._lock:
            if experiment.id in self._runs:
                return nothing  # the same client token again: the experiment already runs
            run = self._runs[experiment.id] = _Run(experiment, actions={name: _Action() for name in experiment.actions})
        self._emit(run)
        return lambda: self._submit(self._execute, run)

    def _submit(self, fn: Callable[[_Run], None], run: _Run) -> None:
        try:
            self._worker.submit(fn, run)
        except RuntimeError:  # shut down: the cloud is stopping
            pass

    def halt(self, experiment_id: str) -> bool:
        """StopExperiment; False for an experiment this service does not run."""
        with self._lock:
            run = self._runs.get(experiment_id)
            if run is None:
                return False
            if run.status in ENDED or run.status == "stopping":
                return True
            run.status, run.reason = "stopping", REASONS["stopping"]
        self._emit(run)
        self._submit(self._halted, run)
        return True

    def status_of(self, experiment: Any) -> str | None:
        run = self._runs.get(experiment.id)
        return None if run is None else run.status

    def state_of(self, experiment_id: str) -> tuple[str, str, dict[str, tuple[str, str]]] | None:
        with self._lock:
            run = self._runs.get(experiment_id)
            if run is None:
                return None
            return run.status, run.reason, {n: (a.status, a.reason) for n, a in run.actions.items()}

    # --- the run (worker thread; completions on the loop) ---

    def _execute(self, run: _Run) -> None:
        experiment = run.experiment
        try:
            steps = self._steps(experiment)
        except (ActionFailed, TargetError) as exc:
            self._end(run, "failed", str(exc))
            return
        with self._lock:
            if run.status != "initiating":
                return  # stopped while initiating: nothing acted
            run.status, run.reason = "running", REASONS["running"]
        self._emit(run)
        for name, act in steps:
            try:
                started = act()
            except ActionFailed as exc:
                with self._lock:
                    run.actions[name].status, run.actions[name].reason = "failed", str(exc)
                self._end(run, "failed", f"Action {name} failed: {exc}")
                return
            self._started(run, name, started)

    def _steps(self, experiment: Any) -> list[tuple[str, Callable[[], Started]]]:
        """Every action with its resolved targets, checked before any acts."""
        skip_empty = (experiment.experiment_options or {}).get("emptyTargetResolutionMode") == "skip"
        steps: list[tuple[str, Callable[[], Started]]] = []
        for name, action in experiment.actions.items():
            action_id = str(action.get("actionId"))
            act = ACTIONS.get(action_id)
            if act is None:
                raise ActionFailed(f"Action {name}: {action_id} is not an action localcloud runs "
                                   f"(it runs {', '.join(ACTIONS)})")
            if action.get("startAfter"):
                raise ActionFailed(f"Action {name}: localcloud starts every action at once; startAfter is not "
                                   "supported")
            resources: list[Any] = []
            for target_name in (action.get("targets") or {}).values():
                if target_name not in experiment.targets:
                    raise TargetError(f"Action {name} names target {target_name}, which the experiment lacks")
                resources += resolve(target_name, experiment.targets[target_name], experiment.account_id,
                                     experiment.region_name)
            if not resources and not skip_empty:
                raise TargetError(f"Target resolution for action {name} returned no resources")
            parameters = dict(action.get("parameters") or {})
            steps.append((name, functools.partial(act, parameters, resources, self._physics)))
        return steps

    def _started(self, run: _Run, name: str, started: Started) -> None:
        with self._lock:
            action = run.actions[name]
            action.started = started
            stopping = run.status == "stopping"
            if not stopping:
                action.status, action.reason = "running", "Action is running."
        if stopping:  # StopExperiment came while this action started: it ends at once
            self._finish_action(run, name, "stopped", "Action was stopped.")
            return
        loop = self._cloud.loop
        loop.call_soon(lambda: loop.loop.call_later(started.lasts_s, self._completed, run, name))

    def _completed(self, run: _Run, name: str) -> None:
        self._finish_action(run, name, "completed", "Action was completed.")
        with self._lock:
            done = run.status == "running" and all(a.status in ENDED for a in run.actions.values())
        if done:
            self._end(run, "completed", REASONS["completed"])

    def _halted(self, run: _Run) -> None:
        self._end(run, "stopped", REASONS["stopped"])  # after _execute (one worker): what it started ends here

    def _finish_action(self, run: _Run, name: str, status: str, reason: str) -> None:
        with self._lock:
            action = run.actions[name]
            if action.status in ENDED:
                return
            was_running, action.status, action.reason = action.status == "running", status, reason
        if was_running and action.started is not None:
            action.started.end()

    def _end(self, run: _Run, status: str, reason: str) -> None:
        with self._lock:
            if run.status in ENDED:
                return
            run.status, run.reason = status, reason
            running = [n for n, a in run.actions.items() if a.status == "running"]
            for action in run.actions.values():
                if action.status == "pending":
                    action.status, action.reason = "cancelled", "Action was cancelled."
        for name in running:  # what lasts ends with the experiment, however it ends
            self._finish_action(run, name, "stopped", "Action was stopped.")
        run.experiment.end_time = time.time()
        self._emit(run)

    def _emit(self, run: _Run) -> None:
        log.info("FIS experiment %s %s: %s", run.experiment.id, run.status, run.reason)
        self._cloud.events.emit(FIS_EXPERIMENT, run.experiment.id, status=run.status, reason=run.reason,
                                template=run.experiment.experiment_template_id)

    # --- the patches (moto's request threads) ---

    def _plan(self) -> None:
        from moto.fis.models import Experiment, FISBackend

        service, add = self, self._patches.add
        start_experiment, stop_experiment = FISBackend.start_experiment, FISBackend.stop_experiment

        @functools.wraps(start_experiment)
        def start(backend: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            answer = start_experiment(backend, *args, **kwargs)
            experiment = backend.experiments[answer["id"]]
            go = service.begin(experiment)
            answer = dict(experiment.to_dict(tags=backend.tagger.get_tag_dict_for_resource(experiment.arn)))
            go()
            return answer

        @functools.wraps(stop_experiment)
        def stop(backend: Any, id: str) -> dict[str, Any]:
            experiment = backend.experiments.get(id)
            if experiment is None or not service.halt(id):
                return dict(stop_experiment(backend, id))
            return dict(experiment.to_dict(tags=backend.tagger.get_tag_dict_for_resource(experiment.arn)))

        def get_status(experiment: Any) -> str | None:
            # Ours while it runs; moto's own otherwise, without its self-advancing transitions.
            status = service.status_of(experiment)
            return experiment._status if status is None else status

        def set_status(experiment: Any, value: str) -> None:
            experiment._status = value

        add(FISBackend, "start_experiment", start)
        add(FISBackend, "stop_experiment", stop)
        add(Experiment, "status", property(get_status, set_status))
        add(Experiment, "to_dict", _with_state(Experiment.to_dict, service))
        add(Experiment, "to_summary_dict", _with_state(Experiment.to_summary_dict, service))


def _with_state(original: Callable[..., dict[str, Any]], service: FisService) -> Callable[..., dict[str, Any]]:
    """moto's answer with the run's own reasons: why an experiment failed, each action's state."""
    @functools.wraps(original)
    def to_dict(experiment: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = original(experiment, *args, **kwargs)
        state = service.state_of(experiment.id)
        if state is None:
            return answer
        status, reason, actions = state
        answer["state"] = {"status": status, "reason": reason}
        for name, (action_status, action_reason) in actions.items():
            if name in answer.get("actions", {}):
                answer["actions"][name] = {**answer["actions"][name],
                                           "state": {"status": action_status, "reason": action_reason}}
        return answer
    return to_dict
