from pathlib import Path

import pytest

from gameday.budgets import budget_for
from gameday.errors import ConfigError
from gameday.kits.eip_self_healing import model as eip
from localcloud import profiles


def test_budget_read_per_profile() -> None:
    assert budget_for("eip-self-healing", "terminate-instance", "fast") == 25.0
    assert budget_for("eip-self-healing", "terminate-instance", "realistic") == 180.0


def test_missing_budget_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "gameday.toml"
    config.write_text("[budgets.x.y]\nfast = -1\n")
    with pytest.raises(ConfigError, match="must be > 0"):
        budget_for("x", "y", "fast", config)
    with pytest.raises(ConfigError, match="no budget"):
        budget_for("x", "y", "realistic", config)


def test_eip_prediction_adds_up_the_profile() -> None:
    fast = profiles.load("fast")
    prediction = eip.terminate_instance(fast, None)

    assert prediction is not None
    keys = ["asg.detect_not_running", "ec2.run_instances_api", "ec2.pending_to_running", "ec2.boot",
            "ebs.attach", "eip.associate_to_traffic"]  # the data volume (on by default) attaches before the claim
    assert prediction.mean_s == pytest.approx(sum(fast.delay(k).mean for k in keys))
    assert [p.source for p in prediction.phases] == keys


def test_realistic_prediction_is_a_range() -> None:
    prediction = eip.terminate_instance(profiles.load("realistic"), None)

    assert prediction is not None
    assert prediction.low_s < prediction.mean_s < prediction.high_s


def test_a_non_finite_budget_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "gameday.toml"
    for value in ("nan", "inf"):
        config.write_text(f"[budgets.x.y]\nfast = {value}\n")
        with pytest.raises(ConfigError, match="must be > 0"):
            budget_for("x", "y", "fast", config)
