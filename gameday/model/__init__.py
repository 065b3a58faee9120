"""Prediction: the failover time a stack's configuration and the platform's timings add up to.

Each stack kit has its predictors (`gameday/kits/<stack>/model.py`, named by its scenario specs); a
predictor gets the time profile and, when there is one, the deployed stack (to read its own configuration
as deployed: health-check intervals, TTLs, timeouts) and returns the phases it expects.

A prediction is a sum of phases, each a profile duration (mean, low, high). Measured times are
compared with it; under the `fast` profile (fixed values) the prediction is exact up to the parts
that run for real (the user-data script, the network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameday.stacks import stack_config
from gameday.template import StackConfig
from localcloud.profiles import Profile

__all__ = ["PredictedPhase", "Prediction", "StackConfig", "fixed", "phase", "stack_config"]


@dataclass(frozen=True)
class PredictedPhase:
    name: str
    mean_s: float
    low_s: float
    high_s: float
    source: str  # the profile key (or template property) the number comes from
    # The measured phase (gameday.analysis names: detection, control_plane, booted, routed, dns_all,
    # stable ...) this predicted phase ends at. "" = its own name when that is a measured phase,
    # otherwise it runs on into the next predicted phase (e.g. "pending" ends inside "booted").
    ends_at: str = ""


@dataclass(frozen=True)
class Prediction:
    stack_id: str
    fault: str
    profile: str
    phases: tuple[PredictedPhase, ...]
    note: str = ""

    @property
    def mean_s(self) -> float:
        return sum(p.mean_s for p in self.phases)

    @property
    def low_s(self) -> float:
        return sum(p.low_s for p in self.phases)

    @property
    def high_s(self) -> float:
        return sum(p.high_s for p in self.phases)

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack_id, "fault": self.fault, "profile": self.profile,
                "mean_s": round(self.mean_s, 3), "low_s": round(self.low_s, 3),
                "high_s": round(self.high_s, 3), "note": self.note,
                "phases": [{"name": p.name, "mean_s": p.mean_s, "low_s": p.low_s, "high_s": p.high_s,
                            "source": p.source, "ends_at": p.ends_at} for p in self.phases]}


def phase(profile: Profile, name: str, key: str, *, ends_at: str = "") -> PredictedPhase:
    """A predicted phase that is one profile duration."""
    delay = profile.delay(key)
    return PredictedPhase(name, delay.mean, delay.low, delay.high, key, ends_at)


def fixed(name: str, seconds: float, source: str, *, ends_at: str = "") -> PredictedPhase:
    """A predicted phase read from the stack's own configuration (e.g. a TTL)."""
    return PredictedPhase(name, seconds, seconds, seconds, source, ends_at)
