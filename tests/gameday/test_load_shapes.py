"""loadtest/shapes.py: every shape's user count over time, and that every shape ends by itself."""

from __future__ import annotations

import pytest

from loadtest.shapes import SHAPES, ShapeParams, peak_users, soak, steady, step_10x

PARAMS = ShapeParams(users=5, duration_s=60.0, step_at_s=10.0, ramp_s=20.0)


def test_steady_holds_the_normal_load() -> None:
    assert [steady(t, PARAMS) for t in (0.0, 30.0, 59.9)] == [(5, 5.0)] * 3


def test_10x_steps_to_ten_times_the_users_at_the_step() -> None:
    assert step_10x(9.9, PARAMS) == (5, 5.0)
    assert step_10x(10.0, PARAMS) == (50, 50.0)
    assert peak_users("10x", PARAMS) == 50


def test_soak_ramps_then_holds() -> None:
    users = [soak(t, PARAMS)[0] for t in (0.0, 10.0, 20.0, 50.0)]  # type: ignore[index]
    assert users == [1, 2, 5, 5] or users == [1, 3, 5, 5]
    assert users == sorted(users)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_shape_stops_at_its_duration(name: str) -> None:
    assert SHAPES[name](PARAMS.duration_s, PARAMS) is None
    assert SHAPES[name](PARAMS.duration_s - 0.1, PARAMS) is not None


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="users"):
        ShapeParams(users=0, duration_s=10)
    with pytest.raises(ValueError, match="duration"):
        ShapeParams(users=1, duration_s=0)
