"""Auto Scaling lifecycle hooks as AWS runs them: a wait state until CompleteLifecycleAction or the timeout.

A group member launched while the group has `autoscaling:EC2_INSTANCE_LAUNCHING` hooks boots as
usual, but its lifecycle state is Pending:Wait, one action per hook, each with a token and a
notification to the hook's target. It goes InService once every action ends with CONTINUE; one
ABANDON (from the API or a heartbeat timeout's DefaultResult) terminates it, and the group replaces it.

A member the group terminates while it has `autoscaling:EC2_INSTANCE_TERMINATING` hooks is held the
same way in Terminating:Wait (still running, if it was). Both results let it go: once every action has
ended with CONTINUE, or at the first ABANDON (which ends the others), it is Terminating:Proceed and the
group's `proceed` terminates it. RecordLifecycleActionHeartbeat restarts the timeout.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.events import (
    ASG_LIFECYCLE_COMPLETE,
    ASG_LIFECYCLE_HEARTBEAT,
    ASG_LIFECYCLE_WAIT,
    EventLog,
)

log = logging.getLogger(__name__)

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
RESULTS = ("CONTINUE", "ABANDON")
WAITING = {LAUNCHING: "Pending:Wait", TERMINATING: "Terminating:Wait"}
PROCEEDING = "Terminating:Proceed"


class LifecycleActionError(Exception):
    """The API call names no active action, or names it wrongly (AWS answers ValidationError)."""


@dataclass
class Action:
    token: str
    hook: Any  # moto's LifecycleHook
    state: Any  # moto's InstanceState of the waiting instance
    timeout_s: float
    transition: str = LAUNCHING
    proceed: Callable[[], None] | None = None  # terminating: what the group does once the actions have ended
    started: float = field(default_factory=time.monotonic)
    generation: int = 0  # bumped by each heartbeat: an older timeout finds it changed

    @property
    def instance_id(self) -> str:
        return str(self.state.instance.id)

    @property
    def group(self) -> str:
        return str(self.state.auto_scaling_group_name)

    @property
    def hook_name(self) -> str:
        return str(self.hook.name)


@dataclass(frozen=True)
class Wiring:
    """How actions reach the rest of localcloud."""

    timeout_for: Callable[[Any], float]  # a hook's heartbeat timeout under the time profile, seconds
    schedule: Callable[[float, Callable[[], None]], None]  # call later (the data-plane loop)
    background: Callable[[Callable[[], None]], None]  # moto calls that must not run on a request thread
    notify: Callable[[Action], None]  # the lifecycle notification to the hook's target (in the background)
    terminate: Callable[[Any], None]  # terminate an abandoned instance (moto's Instance; in the background)


class LifecycleActions:
    """Thread-safe: joins come from moto's request threads and the control worker, API calls from
    request threads, timeouts from the loop."""

    def __init__(self, events: EventLog, wiring: Wiring) -> None:
        self._events = events
        self._wiring = wiring
        self._actions: dict[str, Action] = {}
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._actions.clear()

    def pending(self) -> list[Action]:
        with self._lock:
            return list(self._actions.values())

    def instance_joined(self, state: Any) -> None:
        """A new InstanceState in a group: wait on the group's launch hooks, if it has any."""
        hooks = _hooks(state.auto_scaling_group, LAUNCHING)
        if hooks:
            self._wait(state, hooks, LAUNCHING, None)

    def hold(self, state: Any, proceed: Callable[[], None]) -> bool:
        """The group terminates a member: if it has terminating hooks, the member waits in Terminating:Wait and
        `proceed` runs (in the background) once the actions have ended. False: no hooks, nothing held."""
        if state.lifecycle_state in moto_state.LEAVING:
            return True  # held already: its actions decide
        hooks = _hooks(state.auto_scaling_group, TERMINATING)
        if not hooks or self._closed or state.lifecycle_state == "Terminating":  # an abandoned launch: gone already
            return False
        self._drop(lambda a: a.state is state, "ABANDON", "terminating")  # a launch still in Pending:Wait ends here
        self._wait(state, hooks, TERMINATING, proceed)
        return True

    def release(self, group: Any) -> None:
        """The group is deleted: its outstanding actions end with it (DeleteAutoScalingGroup's ForceDelete)."""
        self._drop(lambda a: a.state.auto_scaling_group is group, "ABANDON", "group deleted")

    def _wait(self, state: Any, hooks: list[Any], transition: str, proceed: Callable[[], None] | None) -> None:
        state.lifecycle_state = WAITING[transition]
        for hook in hooks:
            action = Action(str(uuid.uuid4()), hook, state, self._wiring.timeout_for(hook), transition, proceed)
            with self._lock:
                if self._closed:
                    return
                self._actions[action.token] = action
            self._events.emit(ASG_LIFECYCLE_WAIT, action.instance_id, asg=action.group, instance=action.instance_id,
                              hook=action.hook_name, transition=transition, token=action.token,
                              timeout_s=action.timeout_s, default_result=str(hook.default_result),
                              target=getattr(hook, "notification_target_arn", None))
            self._arm(action)
            if getattr(hook, "notification_target_arn", None):
                self._wiring.background(lambda action=action: self._wiring.notify(action))  # type: ignore[misc]

    def _drop(self, which: Callable[[Action], bool], result: str, by: str) -> None:
        with self._lock:
            dropped = [self._actions.pop(a.token) for a in list(self._actions.values()) if which(a)]
        for action in dropped:
            self._emit_complete(action, result, by)

    def complete(self, group: str, hook: str, result: str, *, token: str | None = None,
                 instance_id: str | None = None) -> None:
        """CompleteLifecycleAction (moto request thread)."""
        if result not in RESULTS:
            raise LifecycleActionError(f"Valid values for LifecycleActionResult are {', '.join(RESULTS)}")
        action = self._find(group, hook, token, instance_id)
        self._finish(action, result, "api")

    def heartbeat(self, group: str, hook: str, *, token: str | None = None, instance_id: str | None = None) -> None:
        """RecordLifecycleActionHeartbeat (moto request thread): the timeout starts again."""
        action = self._find(group, hook, token, instance_id)
        with self._lock:
            action.generation += 1
        self._events.emit(ASG_LIFECYCLE_HEARTBEAT, action.instance_id, asg=action.group,
                          instance=action.instance_id, hook=action.hook_name, transition=action.transition,
                          token=action.token)
        self._arm(action)

    def _find(self, group: str, hook: str, token: str | None, instance_id: str | None) -> Action:
        if not token and not instance_id:
            raise LifecycleActionError("Either LifecycleActionToken or InstanceId must be provided")
        with self._lock:
            if token:
                action = self._actions.get(token)
            else:
                action = next((a for a in self._actions.values()
                               if a.instance_id == instance_id and a.group == group and a.hook_name == hook), None)
        if action is None or action.group != group or action.hook_name != hook \
                or (instance_id and action.instance_id != instance_id) or not self._alive(action):
            what = f"token {token}" if token else f"instance ID {instance_id}"
            raise LifecycleActionError(f"No active Lifecycle Action found with {what}")
        return action

    def _arm(self, action: Action) -> None:
        generation = action.generation
        self._wiring.schedule(action.timeout_s, lambda: self._expire(action.token, generation))

    def _expire(self, token: str, generation: int) -> None:
        with self._lock:
            action = self._actions.get(token)
            if action is None or action.generation != generation:
                return
        if not self._alive(action):
            with self._lock:
                self._actions.pop(token, None)
            return
        self._finish(action, str(action.hook.default_result), "timeout")

    def _finish(self, action: Action, result: str, by: str) -> None:
        with self._lock:
            if self._actions.pop(action.token, None) is None:
                return  # the API and the timeout raced; the first one decided
            siblings = [a for a in self._actions.values() if a.state is action.state]
            if result == "ABANDON":
                for sibling in siblings:
                    self._actions.pop(sibling.token, None)
        self._emit_complete(action, result, by)
        if action.transition == TERMINATING:
            if result == "ABANDON" or not siblings:
                action.state.lifecycle_state = PROCEEDING
                if action.proceed is not None:
                    self._wiring.background(action.proceed)
        elif result == "ABANDON":
            instance = action.state.instance
            self._wiring.background(lambda: self._wiring.terminate(instance))
        elif not siblings:
            action.state.lifecycle_state = "InService"

    def _emit_complete(self, action: Action, result: str, by: str) -> None:
        self._events.emit(ASG_LIFECYCLE_COMPLETE, action.instance_id, asg=action.group, instance=action.instance_id,
                          hook=action.hook_name, transition=action.transition, token=action.token, result=result,
                          by=by, waited_s=round(time.monotonic() - action.started, 3))

    def _alive(self, action: Action) -> bool:
        """Still a member (a terminating one may have stopped running: the group waits on its hooks all the same)."""
        group = action.state.auto_scaling_group
        if action.state not in group.instance_states:
            return False
        return action.transition == TERMINATING or \
            moto_state.state(action.state.instance) not in moto_state.GONE


def _hooks(group: Any, transition: str) -> list[Any]:
    return [h for h in group.autoscaling_backend.lifecycle_hooks.values()
            if h.auto_scaling_group_name == group.name and h.lifecycle_transition == transition]
