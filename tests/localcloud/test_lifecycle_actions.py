"""Lifecycle actions without a cloud: which results hold a terminating member, and which let it go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.events import EventLog
from localcloud.lifecycle.actions import LAUNCHING, TERMINATING, LifecycleActionError, LifecycleActions, Wiring


@dataclass
class Wired:
    """The wiring's effects, recorded; timeouts fire only when the test says so."""

    timers: list[Callable[[], None]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    proceeded: list[str] = field(default_factory=list)

    def wiring(self) -> Wiring:
        return Wiring(timeout_for=lambda hook: 1.0, schedule=lambda delay, fn: self.timers.append(fn),
                      background=lambda fn: fn(), notify=lambda action: self.notified.append(action.hook_name),
                      terminate=lambda instance: self.terminated.append(instance.id))

    def fire_timeouts(self) -> None:
        timers, self.timers = self.timers, []
        for fire in timers:
            fire()


def group_with(*hooks: tuple[str, str, str]) -> Any:
    """A group whose hooks are (name, transition, default result), each notifying a queue."""
    backend = SimpleNamespace(lifecycle_hooks={})
    group = SimpleNamespace(name="web", autoscaling_backend=backend, instance_states=[])
    for name, transition, default in hooks:
        backend.lifecycle_hooks[name] = SimpleNamespace(
            name=name, auto_scaling_group_name="web", lifecycle_transition=transition, default_result=default,
            notification_target_arn="arn:aws:sqs:us-east-1:123456789012:q")
    return group


def member(group: Any, instance_id: str = "i-1", lifecycle: str = "InService") -> Any:
    state = SimpleNamespace(instance=SimpleNamespace(id=instance_id, _state=SimpleNamespace(name="running")),
                            auto_scaling_group=group, auto_scaling_group_name=group.name, lifecycle_state=lifecycle)
    group.instance_states.append(state)
    return state


@pytest.fixture
def wired() -> Wired:
    return Wired()


def holding(wired: Wired, state: Any) -> LifecycleActions:
    actions = LifecycleActions(EventLog(), wired.wiring())
    assert actions.hold(state, lambda: wired.proceeded.append(state.instance.id))
    return actions


def test_a_group_without_terminating_hooks_holds_nothing(wired: Wired) -> None:
    group = group_with(("ready", LAUNCHING, "ABANDON"))
    state = member(group)

    held = LifecycleActions(EventLog(), wired.wiring()).hold(state, lambda: wired.proceeded.append("i-1"))

    assert not held and state.lifecycle_state == "InService" and wired.notified == []


def test_the_member_proceeds_once_every_hook_has_continued(wired: Wired) -> None:
    group = group_with(("drain", TERMINATING, "ABANDON"), ("backup", TERMINATING, "ABANDON"))
    state = member(group)
    actions = holding(wired, state)

    actions.complete("web", "drain", "CONTINUE", instance_id="i-1")
    after_one = (state.lifecycle_state, list(wired.proceeded))
    actions.complete("web", "backup", "CONTINUE", instance_id="i-1")

    assert sorted(wired.notified) == ["backup", "drain"]
    assert after_one == ("Terminating:Wait", [])
    assert (state.lifecycle_state, wired.proceeded, wired.terminated) == ("Terminating:Proceed", ["i-1"], [])


def test_abandon_ends_the_other_hooks_and_lets_the_member_go(wired: Wired) -> None:
    group = group_with(("drain", TERMINATING, "CONTINUE"), ("backup", TERMINATING, "CONTINUE"))
    state = member(group)
    actions = holding(wired, state)

    actions.complete("web", "drain", "ABANDON", instance_id="i-1")

    assert (state.lifecycle_state, wired.proceeded) == ("Terminating:Proceed", ["i-1"])
    assert actions.pending() == []
    with pytest.raises(LifecycleActionError):
        actions.complete("web", "backup", "CONTINUE", instance_id="i-1")


def test_a_timeout_applies_the_default_result_unless_a_heartbeat_restarted_it(wired: Wired) -> None:
    group = group_with(("drain", TERMINATING, "ABANDON"))
    state = member(group)
    actions = holding(wired, state)

    actions.heartbeat("web", "drain", instance_id="i-1")
    wired.timers.pop(0)()  # the timeout armed before the heartbeat: stale, ignored
    still = state.lifecycle_state
    wired.fire_timeouts()

    assert still == "Terminating:Wait"
    assert (state.lifecycle_state, wired.proceeded) == ("Terminating:Proceed", ["i-1"])


def test_a_member_still_in_pending_wait_ends_its_launch_and_waits_to_terminate(wired: Wired) -> None:
    group = group_with(("ready", LAUNCHING, "ABANDON"), ("drain", TERMINATING, "CONTINUE"))
    state = member(group)
    events = EventLog()
    actions = LifecycleActions(events, wired.wiring())
    actions.instance_joined(state)
    launching = state.lifecycle_state

    held = actions.hold(state, lambda: wired.proceeded.append("i-1"))

    assert (launching, held, state.lifecycle_state) == ("Pending:Wait", True, "Terminating:Wait")
    assert [a.transition for a in actions.pending()] == [TERMINATING]
    assert [(e.detail["transition"], e.detail["by"]) for e in events.find("localcloud.asg.lifecycle_complete")] \
        == [(LAUNCHING, "terminating")]
    assert wired.terminated == []  # ending the launch this way is not an abandoned launch's termination


def test_holding_twice_adds_no_action_and_deleting_the_group_releases_them(wired: Wired) -> None:
    group = group_with(("drain", TERMINATING, "CONTINUE"))
    state = member(group)
    actions = holding(wired, state)

    again = actions.hold(state, lambda: wired.proceeded.append("twice"))
    count = len(actions.pending())
    actions.release(group)
    wired.fire_timeouts()

    assert (again, count) == (True, 1)
    assert actions.pending() == [] and wired.proceeded == []
