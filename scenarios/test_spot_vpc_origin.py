"""spot-vpc-origin: one test per scenario spec of its kit (gameday/kits/spot_vpc_origin/scenarios.py)."""

import pytest

from fixtures.scenarios import Play
from gameday.kits import ScenarioSpec

pytestmark = pytest.mark.scenario
STACK = "spot-vpc-origin"


def test_scenario(scenario: ScenarioSpec, play_scenario: Play) -> None:
    play_scenario(scenario)
