"""Fault `deny-bucket-policy`: add a deny-all statement to an S3 bucket's policy (the bucket answers 403).

The statement denies every principal every action except reading and changing the bucket policy itself,
so the suite can always revert. The revert restores the previous policy, or deletes the policy when there
was none, and only while the fault's own statement is still there (so it never clobbers a newer policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults.plan import FaultPlan, RevertAction, Target
from gameday.faults.resources import error_code, new_token, tags_of

_KEEP_ALLOWED = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus"]


@dataclass
class DenyBucketPolicy:
    backend: Backend
    bucket: str
    name: str = "deny-bucket-policy"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "A deny-all statement is added to the S3 bucket's policy, so the bucket answers 403 Access Denied to "
        "every request, as a bad policy change does. CloudFront fails over to the other origin of its origin "
        "group on each request that gets the 403, which costs that request the first origin's round trip.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return self.bucket

    def plan(self) -> FaultPlan:
        s3 = self.backend.client("s3")
        try:
            previous = current_policy(s3, self.bucket)
            tags = _bucket_tags(s3, self.bucket)
        except ClientError as exc:
            raise FaultError(f"bucket {self.bucket}: {error_code(exc) or exc}", fault=self.name,
                             target=self.bucket) from exc
        sid = f"GamedayDenyAll{new_token()}"
        target = Target("s3:bucket", self.bucket, tags, aliases=(f"arn:{_partition(self.backend.region)}:s3:::"
                                                                  f"{self.bucket}",),
                        note="has a bucket policy" if previous is not None else "no bucket policy")
        self._plan = FaultPlan(
            self.name, (target,), f"add statement {sid} denying everyone everything on {self.bucket} "
                                  "(except managing the bucket policy)",
            RevertAction("s3.restore-bucket-policy", {"bucket": self.bucket, "previous": previous, "sid": sid},
                         f"{'restore the previous policy of' if previous is not None else 'delete the policy of'} "
                         f"{self.bucket}"))
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.bucket)
        params = self._plan.revert.params
        document = json.loads(params["previous"]) if params["previous"] else {"Version": "2012-10-17", "Statement": []}
        statements = document.get("Statement", [])
        document["Statement"] = [*(statements if isinstance(statements, list) else [statements]),
                                 _deny_statement(params["sid"], self.bucket, _partition(self.backend.region))]
        self.backend.client("s3").put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(document))


def current_policy(s3: Any, bucket: str) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucketPolicy":
            return None
        raise


def _bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        return tags_of(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise


def _deny_statement(sid: str, bucket: str, partition: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "NotAction": _KEEP_ALLOWED,
            "Resource": [f"arn:{partition}:s3:::{bucket}", f"arn:{partition}:s3:::{bucket}/*"]}


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _has_statement(policy: str | None, sid: str) -> bool:
    if policy is None:
        return False
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    return any(isinstance(s, dict) and s.get("Sid") == sid for s in
               (statements if isinstance(statements, list) else [statements]))


def restore_bucket_policy(backend: Backend, params: Mapping[str, Any]) -> None:
    """Previous policy back (or none), but only while this fault's statement is still in place."""
    s3 = backend.client("s3")
    try:
        now = current_policy(s3, params["bucket"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return
        raise
    if not _has_statement(now, params["sid"]):
        return  # never injected, or already reverted
    if params["previous"] is None:
        s3.delete_bucket_policy(Bucket=params["bucket"])
    else:
        s3.put_bucket_policy(Bucket=params["bucket"], Policy=params["previous"])


def bucket_policy_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live bucket whose policy the revert would rewrite (nothing when it is gone). Its identity is the
    fault's own statement id, written at inject: the revert acts only while that statement is there."""
    s3 = backend.client("s3")
    bucket = str(params["bucket"])
    try:
        tags = _bucket_tags(s3, bucket)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return ()
        raise
    return (Target("s3:bucket", bucket, tags, aliases=(f"arn:{_partition(backend.region)}:s3:::{bucket}",)),)
