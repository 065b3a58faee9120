"""origin-group: one test per scenario spec of its kit (gameday/kits/origin_group/scenarios.py)."""

import pytest

from fixtures.scenarios import Play
from gameday.kits import ScenarioSpec

pytestmark = pytest.mark.scenario
STACK = "origin-group"


def test_scenario(scenario: ScenarioSpec, play_scenario: Play) -> None:
    play_scenario(scenario)
