"""Failover budgets from gameday.toml: per stack, scenario (or fault) and time profile.

`[budgets.<stack>.<fault>]` holds the stack's default for a fault (from its README); a table named
after a scenario (`[budgets.<stack>.<scenario>]`) overrides it for that scenario alone.

A budgets file may start with `extends = "gameday.toml"` (relative to itself): it then states only what it
changes, e.g. a release gate's `[gate]` and `[schedule]` tables and a few tighter budgets.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.resources import FILES

DEFAULT_CONFIG = FILES.default_config
STATISTICS = ("each", "p50", "p95", "max")  # `each`: every attempt is judged alone (no [gate] table)
_EXTENDS_DEPTH = 5


def load_config(config: Path) -> dict[str, Any]:
    """The file's tables over those of the files it extends (budget tables merged profile by profile)."""
    return _load(config, depth=0)


def _load(config: Path, depth: int) -> dict[str, Any]:
    try:
        data = tomllib.loads(config.read_text())
    except FileNotFoundError:
        raise ConfigError(f"budget file {config} not found") from None
    except OSError as exc:
        raise ConfigError(f"budget file {config}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config}: {exc}") from exc
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{config}: extends must be the path of another budgets file, got {base!r}")
    if depth >= _EXTENDS_DEPTH:
        raise ConfigError(f"{config}: extends goes more than {_EXTENDS_DEPTH} files deep (a loop?)")
    return _merged(_load(config.parent / base, depth + 1), data)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in over.items():
        result[key] = _merged(result[key], value) if isinstance(value, dict) and isinstance(
            result.get(key), dict) else value
    return result


def budget_for(stack_id: str, fault: str, profile: str, config: Path = DEFAULT_CONFIG, *,
               scenario: str | None = None) -> float:
    data = load_config(config)
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
        data = load_config(run_file)
    except ConfigError:
        return run_file  # budget_for reports the broken file in one line
    return run_file if stack_id in data.get("budgets", {}) else kit_file


def gate_statistic(config: Path) -> tuple[str, int]:
    """`[gate] statistic` and `min_repeat`: what a scenario's verdict is judged on over its attempts, and the
    fewest attempts that statistic is trusted from. Without a [gate] table: each attempt alone, from one."""
    gate = load_config(config).get("gate", {})
    if not isinstance(gate, dict):
        raise ConfigError(f"{config}: gate must be a table ([gate])")
    statistic = gate.get("statistic", "each")
    if statistic not in STATISTICS:
        raise ConfigError(f"{config}: [gate] statistic {str(statistic)[:40]!r} is none of {', '.join(STATISTICS)}")
    least = gate.get("min_repeat", 1)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise ConfigError(f"{config}: [gate] min_repeat must be a whole number of at least 1, got {least!r}")
    return statistic, least


def schedule_windows(config: Path) -> list[str]:
    """`[schedule] windows`: when a game day with this file may start (gameday.windows reads each)."""
    schedule = load_config(config).get("schedule", {})
    windows = schedule.get("windows", []) if isinstance(schedule, dict) else None
    if not isinstance(windows, list) or not all(isinstance(w, str) for w in windows):
        raise ConfigError(f"{config}: [schedule] windows must be a list of strings like "
                          f"'Mon-Fri 09:00-16:00 Europe/Berlin'")
    return windows
