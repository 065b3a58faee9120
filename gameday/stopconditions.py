"""Stop conditions: abort a fault (and revert it) when clients suffer more than the game day allows.

Checked in the watch loop after every poll. `AvailabilityFloor` fires when the trailing availability of
a probe stays below a floor for longer than a limit; `AlarmState` fires when a CloudWatch alarm is in
ALARM (as AWS FIS stop conditions do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.errors import ConfigError, SystemUnderTestFailed
from gameday.timeline import Event, Timeline


class StopConditionHit(SystemUnderTestFailed):
    """A stop condition fired: the fault was aborted and reverted early."""


class StopCondition(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, timeline: Timeline, now: float) -> str | None:
        """Why to stop now (one line), or None to go on. `now` is epoch seconds."""


@dataclass
class AvailabilityFloor:
    """Stop when `probe`'s availability over the trailing `window_s` stays below `floor` beyond `limit_s`."""

    probe: str
    floor: float  # 0..1
    limit_s: float
    window_s: float = 5.0
    _below_since: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.floor <= 1.0:
            raise ConfigError(f"availability floor must be in (0, 1], got {self.floor!r}")
        if self.limit_s < 0 or self.window_s <= 0:
            raise ConfigError(f"availability floor: limit {self.limit_s!r} s and window {self.window_s!r} s "
                              "must be >= 0 and > 0")

    @property
    def name(self) -> str:
        return f"availability of {self.probe} below {self.floor:.0%} for more than {self.limit_s:g} s"

    def check(self, timeline: Timeline, now: float) -> str | None:
        recent = [s for s in timeline.recent_of(self.probe, now - self.window_s) if s.sent_at <= now]
        if not recent:
            return None  # no evidence either way (yet)
        availability = sum(1 for s in recent if s.good) / len(recent)
        if availability >= self.floor:
            self._below_since = None
            return None
        if self._below_since is None:
            self._below_since = now
        below_s = now - self._below_since
        if below_s > self.limit_s:
            return (f"availability of {self.probe} was {availability:.0%} (floor {self.floor:.0%}) for "
                    f"{below_s:.1f} s, over the {self.limit_s:g} s limit")
        return None


@dataclass
class AlarmState:
    """Stop when the CloudWatch alarm `alarm_name` is in ALARM. Polls at most every `interval_s`."""

    backend: Backend
    alarm_name: str
    interval_s: float = 10.0
    _checked_at: float | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"CloudWatch alarm {self.alarm_name} in ALARM"

    def validate(self) -> None:
        """Refuse before the fault when the alarm does not exist: it could never stop anything."""
        if self._state() is None:
            raise ConfigError(f"stop condition: CloudWatch alarm {self.alarm_name!r} not found in "
                              f"{self.backend.region}")

    def check(self, timeline: Timeline, now: float) -> str | None:
        if self._checked_at is not None and now - self._checked_at < self.interval_s:
            return None
        self._checked_at = now
        state = self._state()
        if state is not None and state.get("StateValue") == "ALARM":
            return f"CloudWatch alarm {self.alarm_name} is in ALARM: {state.get('StateReason', 'no reason given')}"
        return None

    def state_value(self) -> str | None:
        """OK, ALARM or INSUFFICIENT_DATA; None when the alarm does not exist (the pre-flight reads it)."""
        state = self._state()
        return None if state is None else str(state.get("StateValue"))

    def _state(self) -> dict[str, Any] | None:
        found = self.backend.client("cloudwatch").describe_alarms(AlarmNames=[self.alarm_name])
        alarms = [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        return dict(alarms[0]) if alarms else None


def stop_if_triggered(conditions: Sequence[StopCondition], timeline: Timeline, clock: Clock, *,
                      subject: str = "") -> None:
    """Raise `StopConditionHit` (after noting it on the timeline) when any condition fires."""
    now = clock.now()
    for condition in conditions:
        reason = condition.check(timeline, now)
        if reason is not None:
            timeline.add_event(Event(now, "gameday.stop_condition", "gameday", subject,
                                     {"condition": condition.name, "reason": reason}))
            raise StopConditionHit(f"aborted by stop condition: {reason}", phase="watch")


@dataclass(frozen=True)
class StopSpec:
    """Stop conditions: an availability floor (limit in multiples of the budget) and CloudWatch alarms."""

    probe: str | None = None
    floor: float | None = None
    limit_budgets: float = 3.0
    alarms: tuple[str, ...] = ()

    def conditions(self, backend: Backend, budget_s: float) -> list[StopCondition]:
        found: list[StopCondition] = []
        if self.probe is not None and self.floor is not None:
            found.append(AvailabilityFloor(self.probe, self.floor, limit_s=self.limit_budgets * budget_s))
        for alarm in self.alarms:
            condition = AlarmState(backend, alarm)
            condition.validate()
            found.append(condition)
        return found

    def describe(self) -> str:
        parts = []
        if self.probe is not None and self.floor is not None:
            parts.append(f"availability of {self.probe} below {self.floor:.0%} for more than "
                         f"{self.limit_budgets:g}x the failover budget")
        parts += [f"CloudWatch alarm {a} in ALARM" for a in self.alarms]
        return "; ".join(parts) or "none"
