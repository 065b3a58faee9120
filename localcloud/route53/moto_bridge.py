"""Everything that touches moto's Route 53 internals: reading its zones in-process, and the one patch.

Reading: `moto.backends.get_backend("route53")[account]["aws"]` is the very object a ThreadedMotoServer in
this process serves (moto keeps one backend registry per process). Never enter `mock_aws()` in the same
process: it wipes that state.

The patch (`ChangeHook`, installed while a DNS server runs, originals restored on uninstall) wraps four
methods of `moto.route53.responses.Route53`, the HTTP layer, so only API calls are affected:
  * change_resource_record_sets, create_hosted_zone, delete_hosted_zone: run moto's method inside
    `Propagation.applying` (the poller cannot see half a batch), then replace moto's constant
    ChangeInfo Id with a unique one and its Status with PENDING until the change is visible in DNS;
  * get_change: PENDING/INSYNC from the propagation's ledger; ids it never issued fall through to moto
    (which says INSYNC for anything, as before).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from localcloud.patching import Patches
from localcloud.route53.model import Zone, zone_from_moto, zone_id_of
from localcloud.route53.propagation import PENDING, Propagation, Submission


def default_account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def change_hook_owner() -> str | None:
    """Who holds the Route 53 change hook in this process (None: nobody; moto answers INSYNC itself)."""
    from moto.route53.responses import Route53

    owner = getattr(Route53.__dict__.get("get_change"), "_localcloud_patched_by", None)
    return None if owner is None else str(owner)


class MotoZones:
    """The live zones of one account and partition, as snapshots (a `ZoneSource`)."""

    def __init__(self, account_id: str | None = None, partition: str = "aws") -> None:
        self.account_id = account_id or default_account()
        self.partition = partition

    def _backend(self) -> Any:
        from moto.backends import get_backend

        return get_backend("route53")[self.account_id][self.partition]

    def zones(self) -> dict[str, Zone]:
        return {zone_id_of(zid): zone_from_moto(raw) for zid, raw in list(self._backend().zones.items())}

    def zone(self, zone_id: str) -> Zone | None:
        raw = self._backend().zones.get(zone_id_of(zone_id))
        return None if raw is None else zone_from_moto(raw)


class ChangeHook:
    """Makes moto's Route 53 API report change propagation. One hook at a time per process."""

    def __init__(self, propagation: Propagation, account_id: str | None = None, partition: str = "aws") -> None:
        self._propagation = propagation
        self._account_id = account_id or default_account()
        self._partition = partition
        self._patches: Patches | None = None

    @property
    def installed(self) -> bool:
        return self._patches is not None and self._patches.installed

    def install(self) -> None:
        from moto.route53.responses import Route53

        if self.installed:
            return
        patches = Patches("localcloud.route53")
        wrappers = {"change_resource_record_sets": self._wrap_change, "create_hosted_zone": self._wrap_create,
                    "delete_hosted_zone": self._wrap_change, "get_change": self._wrap_get_change}
        for name, wrap in wrappers.items():
            original = getattr(Route53, name)
            # moto dispatches only to plain functions defined on the class (inspect.isfunction).
            patches.add(Route53, name, functools.wraps(original)(wrap(original)))
        patches.install()
        self._patches = patches

    def uninstall(self) -> None:
        if self._patches is not None:
            self._patches.uninstall()
            self._patches = None

    # --- wrappers (each returns the function moto will call as a method) ---

    def _ours(self, response: Any) -> bool:
        return bool(response.current_account == self._account_id and response.partition == self._partition)

    def _wrap_change(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def method(response: Any) -> Any:
            if not self._ours(response):
                return original(response)
            zone_id = response._get_param("HostedZoneId") or response._get_param("Id")
            if response._get_param("ChangeBatch.Changes"):
                _refuse_stale_deletes(response.backend, str(zone_id), response._get_param("ChangeBatch.Changes"))
            with self._propagation.applying(zone_id_of(str(zone_id))) as submission:
                result = original(response)
            return self._report(result, submission)

        return method

    def _wrap_create(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def method(response: Any) -> Any:
            if not self._ours(response):
                return original(response)
            with self._propagation.applying() as submission:
                result = original(response)
                submission.zone_id = zone_id_of(str(result.result["HostedZone"].resource_id))
            return self._report(result, submission)

        return method

    def _wrap_get_change(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def method(response: Any) -> Any:
            result = original(response)
            if self._ours(response):
                info = result.result["ChangeInfo"]
                status = self._propagation.change_status(zone_id_of(str(info["Id"])))
                if status is not None:
                    info["Status"] = status
            return result

        return method

    def _report(self, result: Any, submission: Submission) -> Any:
        info = result.result.get("ChangeInfo") if isinstance(result.result, dict) else None
        if info is not None and submission.change_id:
            info["Id"] = f"/change/{submission.change_id}"
            info["Status"] = self._propagation.change_status(submission.change_id) or PENDING
        return result


def _refuse_stale_deletes(backend: Any, zone_id: str, changes: list[dict[str, Any]]) -> None:
    """A DELETE must name the record set exactly as it is now (TTL and values), as Route 53 requires; moto
    accepts any values the record set ever had and deletes the current one. That is what makes a
    "delete it only while it still names me" cleanup safe against a replacement's UPSERT in between."""
    from moto.route53.exceptions import Route53ClientError

    zone = backend.get_hosted_zone(zone_id_of(zone_id))
    for change in changes:
        if change.get("Action") != "DELETE":
            continue
        wanted = change["ResourceRecordSet"]
        name = str(wanted["Name"]).rstrip(".").lower()
        current = next((r for r in zone.rrsets if str(r.name).rstrip(".").lower() == name
                        and r.type == wanted.get("Type") and r.set_identifier == wanted.get("SetIdentifier")), None)
        if current is None or wanted.get("AliasTarget"):
            continue  # moto's own error for a missing record; alias targets are left to moto
        values = sorted(str(r["Value"]) for r in wanted.get("ResourceRecords") or [])
        if str(wanted.get("TTL")) != str(current.ttl) or values != sorted(str(v) for v in current.records):
            raise Route53ClientError("InvalidChangeBatch", (
                f"[Tried to delete resource record set [name='{wanted['Name']}', type='{wanted.get('Type')}'] "
                "but the values provided do not match the current values]"))
