"""eip-self-healing: one test per scenario spec of its kit (gameday/kits/eip_self_healing/scenarios.py)."""

import pytest

from fixtures.scenarios import Play
from gameday.kits import ScenarioSpec

pytestmark = pytest.mark.scenario
STACK = "eip-self-healing"


def test_scenario(scenario: ScenarioSpec, play_scenario: Play) -> None:
    play_scenario(scenario)
