"""Load shapes as pure functions of run time: how many users locust should run, and how fast to get there.

Plain Python, no locust import: `loadtest/locustfile.py` adapts them to `LoadTestShape`, tests call them
directly. Every shape ends by itself (returns None) at `duration_s`: load is always bounded in time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Tick = tuple[int, float] | None  # (users, spawn rate per second), or None to stop


@dataclass(frozen=True)
class ShapeParams:
    users: int  # the normal load: users before any step
    duration_s: float  # the shape stops by itself here
    step_at_s: float = 10.0  # 10x: when the step happens
    factor: int = 10  # 10x: how many times the normal users
    ramp_s: float = 10.0  # soak: ramp-up time to full users

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if self.duration_s <= 0:
            raise ValueError(f"duration must be positive, got {self.duration_s}")
        if self.factor < 1:
            raise ValueError(f"step factor must be at least 1, got {self.factor}")


def steady(run_time_s: float, p: ShapeParams) -> Tick:
    """The normal load, reached within a second and held until the end."""
    if run_time_s >= p.duration_s:
        return None
    return p.users, float(p.users)


def step_10x(run_time_s: float, p: ShapeParams) -> Tick:
    """Normal load, then a step to `factor` times the users at `step_at_s` (the static-IP article's 10x)."""
    if run_time_s >= p.duration_s:
        return None
    if run_time_s < p.step_at_s:
        return p.users, float(p.users)
    peak = p.users * p.factor
    return peak, float(peak)


def soak(run_time_s: float, p: ShapeParams) -> Tick:
    """A linear ramp to the normal load over `ramp_s`, then held: a long, bounded run."""
    if run_time_s >= p.duration_s:
        return None
    if p.ramp_s > 0 and run_time_s < p.ramp_s:
        users = max(1, round(p.users * run_time_s / p.ramp_s))
        return users, max(1.0, p.users / p.ramp_s)
    return p.users, float(p.users)


SHAPES: dict[str, Callable[[float, ShapeParams], Tick]] = {
    "steady": steady,
    "10x": step_10x,
    "soak": soak,
}


def peak_users(name: str, p: ShapeParams) -> int:
    return p.users * p.factor if name == "10x" else p.users
