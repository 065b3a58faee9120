"""Stacks that span regions: a backend pinned to another region, and the origin-group pair (the primary
stack, then the replica stack in the replica region) deployed, seeded and deleted as one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gameday.backends.base import Backend, Resolver
from gameday.stacks import STACKS_DIR, DeployedStack, StackSpec, delete, deploy
from gameday.timeline import Event

log = logging.getLogger(__name__)

ORIGIN_GROUP = "origin-group"
SITE_OBJECTS: Mapping[str, str] = {
    "index.html": "<html><body>Hello from the origin group.</body></html>\n",
    "static/logo.txt": "a cached asset\n",
}


class RegionalBackend:
    """`backend` with another default region (CloudFormation deploys into the client's region)."""

    def __init__(self, backend: Backend, region: str) -> None:
        self._backend = backend
        self.name = backend.name
        self.profile = backend.profile
        self.region = region

    def client(self, service: str, region: str | None = None) -> Any:
        return self._backend.client(service, region=region or self.region)

    def resolvers(self) -> list[Resolver]:
        return self._backend.resolvers()

    def ground_truth(self, since: float = 0.0) -> list[Event]:
        return self._backend.ground_truth(since)

    def close(self) -> None:
        """The wrapped backend is closed by its owner."""


@dataclass(frozen=True)
class OriginGroupStacks:
    primary: DeployedStack
    replica: DeployedStack

    def output(self, key: str) -> str:
        return self.primary.output(key)


def deploy_origin_group(backend: Backend, run_id: str, *, replica_region: str = "us-west-2",
                        parameters: Mapping[str, str] | None = None) -> OriginGroupStacks:
    """Deploy the primary stack, then the replica stack, then put the site's objects in both buckets."""
    replica_bucket = f"gd-{run_id}-replica".lower()[:63]
    primary = deploy(backend, StackSpec(ORIGIN_GROUP, {"ReplicaRegion": replica_region,
                                                       "ReplicaBucketName": replica_bucket, **(parameters or {})}),
                     run_id)
    try:
        replica = deploy(RegionalBackend(backend, replica_region),
                         StackSpec(ORIGIN_GROUP, {"ReplicaBucketName": replica_bucket,
                                                  "DistributionArn": primary.output("DistributionArn")},
                                   STACKS_DIR / ORIGIN_GROUP / "replica.yaml"), f"{run_id}-replica")
    except BaseException:
        delete(backend, primary)
        raise
    stacks = OriginGroupStacks(primary, replica)
    seed_site(backend, stacks)
    return stacks


def seed_site(backend: Backend, stacks: OriginGroupStacks) -> None:
    """The same objects in both buckets (what replication would have copied)."""
    for bucket, region in ((stacks.output("PrimaryBucketName"), stacks.output("PrimaryRegion")),
                           (stacks.output("ReplicaBucketName"), stacks.output("ReplicaRegion"))):
        s3 = backend.client("s3", region=region)
        for key, body in SITE_OBJECTS.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/html")


def delete_origin_group(backend: Backend, stacks: OriginGroupStacks) -> None:
    """Empty both buckets (CloudFormation will not delete a bucket with objects), then both stacks."""
    for bucket, region in ((stacks.output("PrimaryBucketName"), stacks.output("PrimaryRegion")),
                           (stacks.output("ReplicaBucketName"), stacks.output("ReplicaRegion"))):
        s3 = backend.client("s3", region=region)
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        for item in listed:
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    try:
        delete(RegionalBackend(backend, stacks.output("ReplicaRegion")), stacks.replica)
    finally:
        delete(backend, stacks.primary)
