"""Failover budgets from gameday.toml: per stack, scenario (or fault) and time profile.

`[budgets.<stack>.<fault>]` holds the stack's default for a fault (from its README); a table named
after a scenario (`[budgets.<stack>.<scenario>]`) overrides it for that scenario alone.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from gameday.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "gameday.toml"


def budget_for(stack_id: str, fault: str, profile: str, config: Path = DEFAULT_CONFIG, *,
               scenario: str | None = None) -> float:
    try:
        data = tomllib.loads(config.read_text())
    except FileNotFoundError:
        raise ConfigError(f"budget file {config} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: {exc}") from exc
    stack = data.get("budgets", {}).get(stack_id, {})
    names = [n for n in (scenario, fault) if n]
    name = next((n for n in names if profile in stack.get(n, {})), None)
    if name is None:
        raise ConfigError(f"{config} sets no budget for {stack_id} / {' or '.join(dict.fromkeys(names))} / "
                          f"profile {profile}")
    value = stack[name][profile]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{config}: budget for {stack_id} / {name} / {profile} must be > 0, got {value!r}")
    return float(value)


def budget_file(stack_id: str, run_file: Path, kit_file: Path | None) -> Path:
    """Where a stack's budgets come from: the run's file (--budgets, default gameday.toml) when it has a
    `[budgets.<stack>]` table, otherwise the kit's own file (a team kit ships its budgets beside kit.py)."""
    if kit_file is None:
        return run_file
    try:
        data = tomllib.loads(run_file.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return run_file  # budget_for reports the broken file in one line
    return run_file if stack_id in data.get("budgets", {}) else kit_file
