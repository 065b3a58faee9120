"""dns-failover-fargate: one test per scenario spec of its kit (gameday/kits/dns_failover_fargate/scenarios.py)."""

import pytest

from fixtures.scenarios import Play
from gameday.kits import ScenarioSpec

pytestmark = pytest.mark.scenario
STACK = "dns-failover-fargate"


def test_scenario(scenario: ScenarioSpec, play_scenario: Play) -> None:
    play_scenario(scenario)
