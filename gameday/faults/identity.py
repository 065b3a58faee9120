"""Which resource a fault touched, recorded at inject, so its revert acts on that one and never on a newer
resource that reuses its name (an ECS service, Auto Scaling group or bucket deleted and created again).

The identity is the resource's ARN (or name) plus its creation time, both read from the API at plan time
and written into the revert's parameters, so the journal carries them to `gameday rollback`. Where the API
gives no creation time (moto and localcloud leave out an ECS service's `createdAt`), the fault also writes a
token tag at inject (`tag`) and the revert checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gameday.errors import ConfigError
from gameday.faults.plan import TOKEN_TAG

KEY = "identity"


class IdentityRefused(ConfigError):
    """The resource a revert would act on is not the one its fault touched; nothing was changed."""


def created(value: object) -> str:
    """A creation time as the API gave it (boto3 parses timestamps into datetimes), comparable as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def of(arn: object, created_at: object, tag: str = "") -> dict[str, str]:
    return {"arn": str(arn or ""), "created": created(created_at), **({"tag": tag} if tag else {})}


def recorded_tag(params: Mapping[str, Any]) -> str:
    """The token tag the fault writes at inject ("" when the creation time identifies the resource)."""
    recorded = params.get(KEY)
    return str(recorded.get("tag") or "") if isinstance(recorded, Mapping) else ""


def check(params: Mapping[str, Any], resource: str, arn: object, created_at: object,
          tags: Mapping[str, str] | None = None) -> None:
    """Refuse unless the live resource is the one recorded; a revert without a recorded identity is refused
    too (a journal line forged or edited by hand could otherwise leave it out)."""
    recorded = params.get(KEY)
    if not isinstance(recorded, Mapping):
        raise IdentityRefused(f"refused: the revert of {resource} records no identity (ARN and creation time), "
                              "so it cannot tell the resource from a newer one of the same name; nothing changed")
    live = of(arn, created_at, (tags or {}).get(TOKEN_TAG, "") if recorded.get("tag") else "")
    if dict(recorded) != live:
        raise IdentityRefused(f"refused: {resource} is not the resource the fault touched (recorded "
                              f"{_show(recorded)}, found {_show(live)}): it was recreated; nothing changed")


def _show(identity: Mapping[str, Any]) -> str:
    tag = f" tagged {TOKEN_TAG}={identity['tag']}" if identity.get("tag") else ""
    return f"{identity.get('arn') or '?'} created {identity.get('created') or '?'}{tag}"[:300]


def asg_identity(group: Mapping[str, Any]) -> dict[str, str]:
    return of(group.get("AutoScalingGroupARN") or group.get("AutoScalingGroupName"), group.get("CreatedTime"))


def check_asg(params: Mapping[str, Any], group: Mapping[str, Any]) -> None:
    check(params, f"Auto Scaling group {group.get('AutoScalingGroupName')}",
          group.get("AutoScalingGroupARN") or group.get("AutoScalingGroupName"), group.get("CreatedTime"))


def bucket_created(s3: Any, bucket: str) -> object:
    """A bucket's CreationDate (ListBuckets is the only call that has it); None when it is not listed."""
    found = [b for b in s3.list_buckets().get("Buckets", []) if b.get("Name") == bucket]
    return found[0].get("CreationDate") if found else None


def check_bucket(params: Mapping[str, Any], s3: Any, bucket: str) -> None:
    check(params, f"bucket {bucket}", bucket, bucket_created(s3, bucket))
