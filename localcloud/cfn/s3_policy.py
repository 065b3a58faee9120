"""AWS::S3::BucketPolicy, which moto's CloudFormation skips: the policy is put on the bucket, and removed
again by delete_stack, so the S3 data plane enforces what the template says."""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed


def _s3(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


class BucketPolicy(Typed, CloudFormationModel):
    CFN_TYPE = "AWS::S3::BucketPolicy"

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> BucketPolicy:
        props = cloudformation_json.get("Properties", {})
        bucket, document = str(props["Bucket"]), props["PolicyDocument"]
        policy = document if isinstance(document, str) else json.dumps(document)
        _s3(account_id).put_bucket_policy(bucket, policy.encode())
        return cls(bucket)

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _s3(account_id)
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)
