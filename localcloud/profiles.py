"""Time profiles: every delay localcloud applies, as data. `realistic` cites a source for each number;
`fast` is derived from it by one scale factor so both keep the same structure.

Pure data: no moto import, so gameday's prediction model can read the same numbers.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).parent / "profiles"


class ProfileError(ValueError):
    """A profile file is missing, malformed, or a key is unknown."""


@dataclass(frozen=True)
class Delay:
    """A duration in seconds: fixed (low == high) or uniform between low and high."""

    low: float
    high: float
    source: str = ""

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def fixed(self) -> bool:
        return self.low == self.high

    def sample(self, rng: random.Random) -> float:
        return self.low if self.fixed else rng.uniform(self.low, self.high)

    def scaled(self, factor: float, *, jitter: bool) -> Delay:
        if jitter:
            return Delay(self.low * factor, self.high * factor, self.source)
        value = round(self.mean * factor, 3)
        return Delay(value, value, self.source)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    delays: dict[str, Delay]
    counts: dict[str, int]
    sources: dict[str, str]

    def delay(self, key: str) -> Delay:
        try:
            return self.delays[key]
        except KeyError:
            raise ProfileError(f"profile {self.name!r} has no duration {key!r}") from None

    def count(self, key: str) -> int:
        try:
            return self.counts[key]
        except KeyError:
            raise ProfileError(f"profile {self.name!r} has no count {key!r}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "delays": {k: {"low": d.low, "high": d.high} for k, d in sorted(self.delays.items())},
            "counts": dict(sorted(self.counts.items())),
        }


def available() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load(name: str) -> Profile:
    """Load a profile by name (a file in localcloud/profiles/) or by path."""
    path = Path(name) if name.endswith(".toml") else PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown time profile {name!r} (available: {', '.join(available())})")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    if "base" in raw:
        return _derive(raw, load(str(raw["base"])), path)
    return _parse(raw, path)


def _parse(raw: dict[str, Any], path: Path) -> Profile:
    delays: dict[str, Delay] = {}
    counts: dict[str, int] = {}
    sources: dict[str, str] = {}
    for key, entry in _leaves(raw):
        source = str(entry.get("source", ""))
        if not source:
            raise ProfileError(f"{path}: {key} names no source")
        sources[key] = f"{entry.get('src', '?')}: {source}"
        if "count" in entry:
            counts[key] = int(entry["count"])
        else:
            delays[key] = _delay(entry, key, path, source)
    return Profile(str(raw.get("name", path.stem)), str(raw.get("description", "")), delays, counts, sources)


def _derive(raw: dict[str, Any], base: Profile, path: Path) -> Profile:
    factor = float(raw["scale"])
    jitter = bool(raw.get("jitter", False))
    if not 0 < factor <= 1:
        raise ProfileError(f"{path}: scale must be in (0, 1], got {factor}")
    delays = {k: d.scaled(factor, jitter=jitter) for k, d in base.delays.items()}
    sources = {k: f"{s} (x{factor})" for k, s in base.sources.items()}
    for key, entry in raw.get("override", {}).items():
        if key not in base.delays:
            raise ProfileError(f"{path}: override of unknown duration {key!r}")
        reason = str(entry.get("reason", ""))
        if not reason:
            raise ProfileError(f"{path}: override of {key} gives no reason")
        delays[key] = _delay(entry, key, path, reason)
        sources[key] = f"override: {reason}"
    return Profile(str(raw.get("name", path.stem)), str(raw.get("description", "")),
                   delays, dict(base.counts), sources)


def _delay(entry: dict[str, Any], key: str, path: Path, source: str) -> Delay:
    if "seconds" in entry:
        value = float(entry["seconds"])
        return Delay(value, value, source)
    if "uniform" in entry:
        low, high = (float(v) for v in entry["uniform"])
        if low > high:
            raise ProfileError(f"{path}: {key} uniform range is reversed")
        return Delay(low, high, source)
    raise ProfileError(f"{path}: {key} is neither seconds, uniform nor count")


def _leaves(table: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Tables that hold a value (seconds/uniform/count), keyed by their dotted path."""
    found: list[tuple[str, dict[str, Any]]] = []
    for key, value in table.items():
        if not isinstance(value, dict):
            continue
        dotted = f"{prefix}{key}"
        if {"seconds", "uniform", "count"} & value.keys():
            found.append((dotted, value))
        else:
            found.extend(_leaves(value, dotted + "."))
    return found
