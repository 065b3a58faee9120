"""Per-scenario budgets: a table named after the scenario overrides the stack's default for the fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.budgets import budget_for
from gameday.errors import ConfigError

CONFIG = """
[budgets.eip-self-healing.terminate-instance]
fast = 20.0
realistic = 180.0

[budgets.eip-self-healing.terminate-instance-under-load]
fast = 25.0
"""


def test_a_scenario_table_overrides_the_fault_default(tmp_path: Path) -> None:
    config = tmp_path / "gameday.toml"
    config.write_text(CONFIG)

    assert budget_for("eip-self-healing", "terminate-instance", "fast", config,
                      scenario="terminate-instance-under-load") == 25.0
    assert budget_for("eip-self-healing", "terminate-instance", "realistic", config,
                      scenario="terminate-instance-under-load") == 180.0  # falls back per profile
    assert budget_for("eip-self-healing", "terminate-instance", "fast", config, scenario="other") == 20.0


def test_a_boolean_is_not_a_budget(tmp_path: Path) -> None:
    config = tmp_path / "gameday.toml"
    config.write_text("[budgets.x.y]\nfast = true\n")

    with pytest.raises(ConfigError, match="must be > 0"):
        budget_for("x", "y", "fast", config)
