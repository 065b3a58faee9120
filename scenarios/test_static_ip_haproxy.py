"""static-ip-haproxy: one test per scenario spec of its kit (gameday/kits/static_ip_haproxy/scenarios.py)."""

import pytest

from fixtures.scenarios import Play
from gameday.kits import ScenarioSpec

pytestmark = pytest.mark.scenario
STACK = "static-ip-haproxy"


def test_scenario(scenario: ScenarioSpec, play_scenario: Play) -> None:
    play_scenario(scenario)
