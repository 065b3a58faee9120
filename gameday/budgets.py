"""Failover budgets from gameday.toml: per stack, fault and time profile."""

from __future__ import annotations

import tomllib
from pathlib import Path

from gameday.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "gameday.toml"


def budget_for(stack_id: str, fault: str, profile: str, config: Path = DEFAULT_CONFIG) -> float:
    try:
        data = tomllib.loads(config.read_text())
    except FileNotFoundError:
        raise ConfigError(f"budget file {config} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: {exc}") from exc
    try:
        value = data["budgets"][stack_id][fault][profile]
    except KeyError:
        raise ConfigError(f"{config} sets no budget for {stack_id} / {fault} / profile {profile}") from None
    if not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{config}: budget for {stack_id} / {fault} / {profile} must be > 0, got {value!r}")
    return float(value)
