"""Distributions over repeated scenarios (`gameday run --repeat N`): p50, p95, max of the failover time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gameday.analysis import percentiles


def scenario_key(scenario: Mapping[str, Any]) -> str:
    return f"{scenario['stack']}/{scenario['scenario']}"


def distributions(scenarios: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stack/scenario: attempts, how many recovered, and the failover-time percentiles (nearest rank)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for scenario in scenarios:
        grouped.setdefault(scenario_key(scenario), []).append(scenario)
    result: dict[str, dict[str, Any]] = {}
    for key, attempts in grouped.items():
        times = [t for s in attempts if (t := s.get("measured_s", s.get("failover_time_s"))) is not None]
        spread = percentiles(times)
        result[key] = {"attempts": len(attempts), "recovered": len(times),
                       "passed": sum(1 for s in attempts if s["verdict"] == "passed"),
                       "p50_s": spread.p50, "p95_s": spread.p95, "max_s": spread.max,
                       "min_s": min(times) if times else None}
    return result
