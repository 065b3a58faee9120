"""Faults on a proxied backend: `blue-green-switch` (point the backend name at the other fleet, as a
deployment does) and `backend-loss` (stop the instance the backend name points at).

Both record the state to restore before they change it: the record set as it was (UPSERT back), the
instance's state (started again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import instance_parents, tags_of

_MAX_PAGES = 20


def _record_set(route53: Any, zone_id: str, name: str, rdtype: str) -> dict[str, Any] | None:
    wanted = name.rstrip(".").lower()
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "StartRecordName": name, "StartRecordType": rdtype}
    for _ in range(_MAX_PAGES):
        page = route53.list_resource_record_sets(**kwargs)
        for record in page["ResourceRecordSets"]:
            if record["Name"].rstrip(".").lower() == wanted and record["Type"] == rdtype:
                return dict(record)
        if not page.get("IsTruncated"):
            break
        kwargs.update(StartRecordName=page["NextRecordName"], StartRecordType=page["NextRecordType"])
    return None


@dataclass
class BlueGreenSwitch:
    """UPSERT the CNAME `record_name` in `zone_id` to `to_target` (the other fleet's name)."""

    backend: Backend
    zone_id: str
    record_name: str
    to_target: str
    name: str = "blue-green-switch"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The backend's DNS name is pointed at the other fleet (an UPSERT of its CNAME), as a blue/green "
        "deployment does. Proxies that re-resolve the name follow it after the record's TTL and their own "
        "resolver hold; a proxy that resolved the name once at start keeps sending to the old fleet.")
    _original: dict[str, Any] | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return f"{self.record_name} -> {self.to_target}"

    def plan(self) -> FaultPlan:
        route53 = self.backend.client("route53")
        original = _record_set(route53, self.zone_id, self.record_name, "CNAME")
        if original is None:
            raise FaultError(f"no CNAME {self.record_name} in zone {self.zone_id}", fault=self.name,
                             target=self.record_name)
        self._original = original
        was = original["ResourceRecords"][0]["Value"]
        revert = RevertAction("route53.restore-record", {"zone_id": self.zone_id, "record": original},
                              f"{self.record_name} back to {was}")
        targets = (Target("route53:record", self.record_name, {}, (self.zone_id,), note=f"CNAME {was}"),)
        return FaultPlan(self.name, targets, f"UPSERT {self.record_name} CNAME {self.to_target}", revert)

    def inject(self) -> None:
        if self._original is None:
            raise FaultError("inject before plan", fault=self.name, target=self.record_name)
        record = {**self._original, "ResourceRecords": [{"Value": self.to_target}]}
        _upsert(self.backend.client("route53"), self.zone_id, record)


@dataclass
class BackendLoss:
    """Stop the backend instance `instance_id` (what the backend name resolves to)."""

    backend: Backend
    instance_id: str
    name: str = "backend-loss"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The backend instance the proxies send to is stopped. The proxies' health checks mark it down and "
        "they answer 503 (their health endpoint reports the backend down) until it is started again.")

    @property
    def target(self) -> str:
        return self.instance_id

    def plan(self) -> FaultPlan:
        reservations = self.backend.client("ec2").describe_instances(InstanceIds=[self.instance_id])["Reservations"]
        instance: dict[str, Any] = next((i for r in reservations for i in r["Instances"]), {})
        state = instance.get("State", {}).get("Name")
        if state != "running":
            raise FaultError(f"backend {self.instance_id} is {state or 'missing'}, not running", fault=self.name,
                             target=self.instance_id)
        zone = instance.get("Placement", {}).get("AvailabilityZone", "")
        targets = (Target("ec2:instance", self.instance_id, tags_of(instance.get("Tags")), note=zone),)
        revert = RevertAction("ec2.start-instance", {"instance_id": self.instance_id},
                              f"start {self.instance_id} again")
        return FaultPlan(self.name, targets, f"stop {self.instance_id}", revert)

    def inject(self) -> None:
        self.backend.client("ec2").stop_instances(InstanceIds=[self.instance_id])


def _upsert(route53: Any, zone_id: str, record: Mapping[str, Any]) -> None:
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": dict(record)}]})


def restore_record(backend: Backend, params: Mapping[str, Any]) -> None:
    """UPSERT the recorded record set (a no-op when it already reads so; nothing when the zone is gone)."""
    route53 = backend.client("route53")
    record = dict(params["record"])
    try:
        current = _record_set(route53, params["zone_id"], record["Name"], record["Type"])
    except route53.exceptions.NoSuchHostedZone:
        return
    if current != record:
        _upsert(route53, params["zone_id"], record)


def start_instance(backend: Backend, params: Mapping[str, Any]) -> None:
    """Start a stopped instance again (running, pending or gone: nothing to do)."""
    ec2 = backend.client("ec2")
    try:
        reservations = ec2.describe_instances(InstanceIds=[params["instance_id"]])["Reservations"]
    except ec2.exceptions.ClientError as exc:
        if "NotFound" in str(exc):
            return
        raise
    instance = next((i for r in reservations for i in r["Instances"]), None)
    if instance is not None and instance["State"]["Name"] in ("stopped", "stopping"):
        ec2.start_instances(InstanceIds=[params["instance_id"]])


def record_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The record set the revert would write back, inside its hosted zone (zone ids are never reused)."""
    record = params["record"]
    return (Target("route53:record", str(record["Name"]), {}, (str(params["zone_id"]),)),)


def start_instance_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live instance the revert would start (instance ids are never reused)."""
    ec2 = backend.client("ec2")
    try:
        reservations = ec2.describe_instances(InstanceIds=[params["instance_id"]])["Reservations"]
    except ec2.exceptions.ClientError as exc:
        if "NotFound" in str(exc):
            return ()
        raise
    return tuple(Target("ec2:instance", i["InstanceId"], tags_of(i.get("Tags")), instance_parents(i))
                 for r in reservations for i in r["Instances"])
