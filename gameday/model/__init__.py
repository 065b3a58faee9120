"""Prediction: the failover time a stack's configuration and the platform's timings add up to.

Each stack kit has its predictors (`gameday/kits/<stack>/model.py`, named by its scenario specs); a
predictor gets the time profile and, when there is one, the deployed stack (to read its own configuration
as deployed: health-check intervals, TTLs, timeouts) and returns the phases it expects.

A prediction is a sum of phases, each a profile duration (mean, low, high). Measured times are
compared with it; under the `fast` profile (fixed values) the prediction is exact up to the parts
that run for real (the user-data script, the network).

Every predicted phase also says which plane it runs on: `control` when it needs a control-plane API to act
(an address association, a record change, an Auto Scaling launch, ECS scheduling: the APIs AWS says may be
impaired in the event that causes the failover) or `data` (Route 53 health checks and answers, CloudFront's
origin groups, caches, the stack's own processes). The label comes from the profile key the phase's number
comes from (`PLANES`), unless the predictor names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameday.stacks import stack_config
from gameday.template import StackConfig
from localcloud.profiles import Profile

__all__ = ["CONTROL", "DATA", "PLANES", "PredictedPhase", "Prediction", "StackConfig", "fixed", "phase",
           "plane_of", "stack_config"]

CONTROL, DATA = "control", "data"
# Profile key -> the control-plane API a phase timed by it waits on. Keys not named here run on the data plane.
PLANES: dict[str, str] = {
    "asg.detect_not_running": "autoscaling health check",
    "asg.detect_impaired": "autoscaling health check",
    "ec2.run_instances_api": "autoscaling launch (ec2:RunInstances)",
    "ec2.pending_to_running": "autoscaling launch (ec2:RunInstances)",
    "ec2.ice_retry": "autoscaling launch (ec2:RunInstances)",
    "ec2.spot_extra_fulfilment": "autoscaling launch (ec2:RunInstances)",
    "eip.associate_to_traffic": "ec2:AssociateAddress",
    "eni.attach_to_traffic": "ec2:AttachNetworkInterface",
    "ebs.attach": "ec2:AttachVolume",
    "ebs.detach": "ec2:DetachVolume",
    "route53.change_insync": "route53:ChangeResourceRecordSets",
    "ecs.scheduler_reaction": "ecs scheduling",
    "cloudfront.distribution_deploy": "cloudfront:UpdateDistribution",
}


def plane_of(source: str) -> tuple[str, str]:
    """(plane, API) for a phase whose number comes from `source`: a profile key, perhaps followed by words."""
    key = source.split(" ", 1)[0]
    return (CONTROL, PLANES[key]) if key in PLANES else (DATA, "")


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
    # "control" (with the API it waits on) or "data"; "" = read from `source` (`plane_of`).
    plane: str = ""
    api: str = ""

    def __post_init__(self) -> None:
        if self.plane not in ("", CONTROL, DATA):
            raise ValueError(f"phase {self.name}: plane must be {CONTROL!r} or {DATA!r}, got {self.plane!r}")
        if not self.plane:
            plane, api = plane_of(self.source)
            object.__setattr__(self, "plane", plane)
            object.__setattr__(self, "api", self.api or api)

    @property
    def label(self) -> str:
        """"control: ec2:AssociateAddress" or "data"."""
        return f"{CONTROL}: {self.api}" if self.plane == CONTROL else DATA


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

    @property
    def control_plane_apis(self) -> tuple[str, ...]:
        """The control-plane APIs the failover path waits on, in order, each once (empty: data plane only)."""
        return tuple(dict.fromkeys(p.api for p in self.phases if p.plane == CONTROL))

    @property
    def control_plane_flag(self) -> str:
        """The report's flag: "failover depends on the control plane: <APIs>", or "" (data plane only)."""
        apis = self.control_plane_apis
        return f"failover depends on the control plane: {', '.join(apis)}" if apis else ""

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack_id, "fault": self.fault, "profile": self.profile,
                "mean_s": round(self.mean_s, 3), "low_s": round(self.low_s, 3),
                "high_s": round(self.high_s, 3), "note": self.note,
                "control_plane": list(self.control_plane_apis), "control_plane_flag": self.control_plane_flag,
                "phases": [{"name": p.name, "mean_s": p.mean_s, "low_s": p.low_s, "high_s": p.high_s,
                            "source": p.source, "ends_at": p.ends_at, "plane": p.plane, "api": p.api}
                           for p in self.phases]}


def phase(profile: Profile, name: str, key: str, *, ends_at: str = "", plane: str = "",
          api: str = "") -> PredictedPhase:
    """A predicted phase that is one profile duration (its plane from the key unless named)."""
    delay = profile.delay(key)
    return PredictedPhase(name, delay.mean, delay.low, delay.high, key, ends_at, plane, api)


def fixed(name: str, seconds: float, source: str, *, ends_at: str = "", plane: str = "",
          api: str = "") -> PredictedPhase:
    """A predicted phase read from the stack's own configuration (e.g. a TTL)."""
    return PredictedPhase(name, seconds, seconds, seconds, source, ends_at, plane, api)
