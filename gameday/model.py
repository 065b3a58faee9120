"""Prediction: the failover time a stack's configuration and the platform's timings add up to.

A prediction is a sum of phases, each a profile duration (mean, low, high). Measured times are
compared with it; under the `fast` profile (fixed values) the prediction is exact up to the parts
that run for real (the user-data script, the network).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.profiles import Profile


@dataclass(frozen=True)
class PredictedPhase:
    name: str
    mean_s: float
    low_s: float
    high_s: float
    source: str  # the profile key the number comes from


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
                            "source": p.source} for p in self.phases]}


def _phase(profile: Profile, name: str, key: str) -> PredictedPhase:
    delay = profile.delay(key)
    return PredictedPhase(name, delay.mean, delay.low, delay.high, key)


def _eip_terminate(profile: Profile) -> Prediction:
    # T_A = d_asg + t_api + t_pend + t_boot + t_eip (aws-timings §12.2 A). The user data's own run
    # time (curl to IMDS + one `aws ec2 associate-address`) is real, not a profile number.
    return Prediction("eip-self-healing", "terminate-instance", profile.name, (
        _phase(profile, "detection", "asg.detect_not_running"),
        _phase(profile, "launch", "ec2.run_instances_api"),
        _phase(profile, "pending", "ec2.pending_to_running"),
        _phase(profile, "boot", "ec2.boot"),
        _phase(profile, "association", "eip.associate_to_traffic"),
    ), note="excludes the user-data run time (measured, not modelled)")


PREDICTORS: dict[tuple[str, str], Callable[[Profile], Prediction]] = {
    ("eip-self-healing", "terminate-instance"): _eip_terminate,
}


def predict(stack_id: str, fault: str, profile: Profile) -> Prediction | None:
    predictor = PREDICTORS.get((stack_id, fault))
    return predictor(profile) if predictor else None
