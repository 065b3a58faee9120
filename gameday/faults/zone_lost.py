"""Fault `zone-lost` (localcloud only): an availability zone becomes unavailable. Its instances go down while
EC2 still reports them running (their status checks fail), groups launch only in their other zones, and the
zone's EBS volumes stay in it. AWS offers no action that takes a zone away; FIS's AZ power interruption
scenario is the nearest, and it is a composite of network, instance and volume actions on your own resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.backends.local import control_request
from gameday.errors import BackendError, ConfigError, FaultError
from gameday.faults.plan import FaultPlan, RevertAction, Target


def _control(backend: Backend) -> str:
    control = (getattr(backend, "ready", None) or {}).get("control_url")
    if backend.name != "localcloud" or not control:
        raise ConfigError("zone-lost needs localcloud (its control API takes a zone away); AWS has no fault action "
                          "that makes an availability zone unavailable")
    return str(control)


def _post(control: str, zone: str, state: str) -> None:
    try:
        control_request(f"{control}/zones/{zone}/{state}", method="POST")
    except BackendError as exc:
        raise FaultError(f"cannot make {zone} {state}: {exc}") from exc


@dataclass
class ZoneLost:
    backend: Backend
    zone: str
    within: str = ""  # a resource of the stack in that zone (its group): what places it in the blast radius
    name: str = "zone-lost"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "An availability zone becomes unavailable (localcloud only): its instances stop answering while EC2 "
        "still reports them running (their status checks fail), groups launch only in other zones, and the "
        "zone's EBS volumes stay in it, with their data. AWS has no action that takes a zone away.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return self.zone

    def plan(self) -> FaultPlan:
        control = _control(self.backend)
        target = Target("ec2:availability-zone", self.zone, {}, parents=(self.within,) if self.within else (),
                        note="its instances go down, nothing launches there, its volumes stay there")
        self._plan = FaultPlan(self.name, (target,), f"make {self.zone} unavailable",
                               RevertAction("localcloud.zone-available", {"control": control, "zone": self.zone},
                                            f"{self.zone} available again (launches there succeed)"))
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.target)
        _post(self._plan.revert.params["control"], self.zone, "unavailable")


def restore_zone(backend: Backend, params: Mapping[str, Any]) -> None:
    """Available again (idempotent). A localcloud that is gone took its lost zone with it."""
    try:
        _post(str(params["control"]), str(params["zone"]), "available")
    except (OSError, FaultError):
        if (getattr(backend, "ready", None) or {}).get("control_url") == params["control"]:
            raise
