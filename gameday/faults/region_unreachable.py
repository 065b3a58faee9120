"""Fault `region-unreachable` (localcloud only): S3's endpoint address in one region black-holes, so
connections to it hang (not refused), as when a region is down. AWS offers no such action; on AWS the
closest is an FIS network disruption of your own subnets, which does not reach CloudFront's origin fetches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.backends.local import control_request
from gameday.errors import BackendError, ConfigError, FaultError
from gameday.faults.plan import FaultPlan, RevertAction, Target


def _s3_control(backend: Backend) -> str:
    ready = getattr(backend, "ready", None) or {}
    control = (ready.get("services") or {}).get("s3", {}).get("control")
    if backend.name != "localcloud" or not control:
        raise ConfigError("region-unreachable needs localcloud (its S3 endpoints can black-hole a region); "
                          "AWS has no fault action that makes a region unreachable")
    return str(control)


def _post(control: str, region: str, state: str) -> None:
    try:
        control_request(f"{control}/regions/{region}/{state}", method="POST")
    except BackendError as exc:
        raise FaultError(f"cannot make {region} {state}: {exc}") from exc


@dataclass
class RegionUnreachable:
    backend: Backend
    region: str
    within: str = ""  # a resource of the stack in that region (its bucket): what places it in the blast radius
    name: str = "region-unreachable"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "S3's endpoint in one region black-holes (localcloud only): connections hang, they are not refused, "
        "as when a region is down. CloudFront waits out its origin connection timeouts and attempts before it "
        "fails over, so every request pays those seconds. AWS offers no such action.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return f"s3:{self.region}"

    def plan(self) -> FaultPlan:
        control = _s3_control(self.backend)
        target = Target("s3:region", self.region, {}, parents=(self.within,) if self.within else (),
                        note=f"S3 endpoint of the region black-holes{f' (for {self.within})' if self.within else ''}")
        self._plan = FaultPlan(self.name, (target,), f"black-hole S3 in {self.region} (connections hang)",
                               RevertAction("localcloud.region-reachable", {"control": control, "region": self.region},
                                            f"S3 in {self.region} reachable again"))
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.target)
        _post(self._plan.revert.params["control"], self.region, "unreachable")


def restore_region(backend: Backend, params: Mapping[str, Any]) -> None:
    """Reachable again (idempotent). A localcloud that is gone took its black hole with it."""
    try:
        _post(str(params["control"]), str(params["region"]), "reachable")
    except OSError:
        if backend.name == "localcloud" and getattr(backend, "ready", {}).get("services", {}).get("s3", {}).get(
                "control") == params["control"]:
            raise
