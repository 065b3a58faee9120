"""Fault `objects-missing`: delete objects from a bucket (a failed deploy, a bad sync); the revert puts
back the exact bytes, content type and user metadata, recorded in the journal before the delete (objects
are small)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults import identity
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import error_code, tags_of

MAX_SAVED_BYTES = 256 * 1024  # the journal is not a backup system


@dataclass
class ObjectsMissing:
    backend: Backend
    bucket: str
    keys: Sequence[str]
    region: str | None = None
    name: str = "objects-missing"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "Objects are deleted from the bucket, as a failed deploy or a bad sync does; the bucket answers 404 "
        "for them. CloudFront fails over to the other origin on a 404 when its origin group lists 404; "
        "clients of the objects see the replica's copy, or the 404 if it is not listed.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return f"{self.bucket}/{','.join(self.keys)}"

    def plan(self) -> FaultPlan:
        s3 = self.backend.client("s3", region=self.region)
        saved: dict[str, dict[str, Any]] = {}
        total = 0
        for key in self.keys:
            try:
                found = s3.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404"):  # already missing: nothing to delete or restore
                    continue
                raise FaultError(f"s3://{self.bucket}/{key}: {error_code(exc) or exc}", fault=self.name,
                                 target=self.target) from exc
            body = found["Body"].read()
            total += len(body)
            if total > MAX_SAVED_BYTES:
                raise FaultError(f"objects in {self.bucket} exceed {MAX_SAVED_BYTES} bytes: refusing to delete what "
                                 "the journal cannot restore", fault=self.name, target=self.target)
            saved[key] = {"body": base64.b64encode(body).decode(), "content_type": found.get("ContentType", ""),
                          "metadata": dict(found.get("Metadata", {}))}
        absent = [k for k in self.keys if k not in saved]
        target = Target("s3:bucket", self.bucket, {}, note=f"{len(saved)} object(s)" + (
            f"; already missing: {', '.join(absent)}" if absent else ""))
        which = identity.of(self.bucket, identity.bucket_created(s3, self.bucket))
        self._plan = FaultPlan(self.name, (target,), f"delete {', '.join(self.keys)} from {self.bucket}",
                               RevertAction("s3.restore-objects", {"bucket": self.bucket, "region": self.region,
                                                                   "objects": saved, identity.KEY: which},
                                            f"put {len(saved)} object(s) back into {self.bucket}"))
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.target)
        s3 = self.backend.client("s3", region=self.region)
        for key in self.keys:
            s3.delete_object(Bucket=self.bucket, Key=key)


def restore_objects(backend: Backend, params: Mapping[str, Any]) -> None:
    """Put back every recorded object that is missing (one that exists again is left as it is), into the
    bucket the fault emptied: a bucket of the same name created since is refused (see `identity`)."""
    s3 = backend.client("s3", region=params.get("region"))
    if not objects_targets(backend, params):
        return  # the bucket is gone
    for key, saved in params["objects"].items():
        try:
            s3.head_object(Bucket=params["bucket"], Key=key)
            continue
        except ClientError as exc:
            if error_code(exc) in ("NoSuchBucket",):
                return
            if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                raise
        extra: dict[str, Any] = {"ContentType": saved["content_type"]} if saved.get("content_type") else {}
        if saved.get("metadata"):  # what the object says of itself (e.g. which bucket it is in)
            extra["Metadata"] = dict(saved["metadata"])
        s3.put_object(Bucket=params["bucket"], Key=key, Body=base64.b64decode(saved["body"]), **extra)


def objects_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live bucket the revert would write into, its identity checked (nothing when it is gone)."""
    s3 = backend.client("s3", region=params.get("region"))
    bucket = str(params["bucket"])
    try:
        tags = tags_of(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return ()
        if error_code(exc) != "NoSuchTagSet":
            raise
        tags = {}
    identity.check_bucket(params, s3, bucket)
    return (Target("s3:bucket", bucket, tags),)
