"""Faults: break a stack on purpose, with the revert journalled before the break.

Every fault offers `plan()` (targets, action and revert as data, no change) and `inject()`;
`injected()` is the one way to run one. `FAULTS` names every fault class, for the scenario catalog.
"""

from gameday.faults.az_nacl import BlockAzNacl
from gameday.faults.az_security_groups import BlockAzSecurityGroups
from gameday.faults.backend_switch import BackendLoss, BlueGreenSwitch
from gameday.faults.base import Fault, TargetGuard, backend_ref, injected
from gameday.faults.bucket_policy import DenyBucketPolicy
from gameday.faults.capacity_thrash import CapacityThrash
from gameday.faults.composite import CompositeFault
from gameday.faults.ecs_service import ScaleEcsService
from gameday.faults.journal import JournalEntry, RollbackJournal
from gameday.faults.objects_missing import ObjectsMissing
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.port_fault import PortFault
from gameday.faults.region_unreachable import RegionUnreachable
from gameday.faults.reverts import REVERTS, run_revert
from gameday.faults.scale_to_zero import ScaleToZero
from gameday.faults.spot import SpotCapacityError, SpotInterruption
from gameday.faults.terminate_instance import TerminateInstance
from gameday.faults.zone_lost import ZoneLost

FAULTS: dict[str, type] = {
    "terminate-instance": TerminateInstance,
    "block-az-security-groups": BlockAzSecurityGroups,
    "block-az-nacl": BlockAzNacl,
    "scale-ecs-service": ScaleEcsService,
    "deny-bucket-policy": DenyBucketPolicy,
    "region-unreachable": RegionUnreachable,
    "objects-missing": ObjectsMissing,
    "blue-green-switch": BlueGreenSwitch,
    "backend-loss": BackendLoss,
    "spot-interruption": SpotInterruption,
    "spot-capacity-error": SpotCapacityError,
    "capacity-thrash": CapacityThrash,
    "terminate-in-group": TerminateInstance,
    "zone-lost": ZoneLost,
    "hang-app": PortFault,
    "kill-server": PortFault,
    "scale-to-zero": ScaleToZero,
}


def mechanism_of(fault: str) -> str:
    """What the fault named `fault` does on AWS and what it means for clients ("a+b": each part's); "" for a
    fault that is not one of these classes (a kit's own, e.g. load)."""
    texts = [getattr(FAULTS.get(name), "mechanism", "") for name in fault.split("+")]
    return " ".join(dict.fromkeys(text for text in texts if isinstance(text, str) and text))

__all__ = ["FAULTS", "REVERTS", "BackendLoss", "BlockAzNacl", "BlueGreenSwitch", "CompositeFault",
           "BlockAzSecurityGroups", "CapacityThrash", "DenyBucketPolicy", "Fault", "FaultPlan",
           "JournalEntry", "ObjectsMissing", "PortFault", "RegionUnreachable", "RevertAction", "RollbackJournal",
           "ScaleEcsService",
           "ScaleToZero", "SpotCapacityError", "SpotInterruption",
           "Target", "TargetGuard",
           "TerminateInstance", "ZoneLost", "backend_ref", "injected", "mechanism_of", "run_revert"]
