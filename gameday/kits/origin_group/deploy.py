"""How origin-group deploys: the distribution and primary bucket (part `main`), then the replica bucket
(part `replica`) in the region the main part names, with the distribution's ARN in its bucket policy; the
site's objects put in both buckets after a deploy, and taken out again before the delete."""

from __future__ import annotations

from collections.abc import Mapping

from gameday.kits.blocks.template_kit import TemplatePart, empty_bucket, main_part
from gameday.kits.kit import DeployContext, Deployment, PartSpec
from gameday.stacks import STACKS_DIR, DeployedStack

STACK = "origin-group"
REPLICA_REGION = "us-west-2"  # the template's default; --param origin-group.ReplicaRegion=... moves it
ROLES = ("primary", "replica")  # the order of `buckets`
SERVED_BY_METADATA = "served-by"  # S3 user metadata: the header `x-amz-meta-served-by`, "<role>/<bucket>"
SERVED_BY_HEADER = f"x-amz-meta-{SERVED_BY_METADATA}"
SITE_OBJECTS: Mapping[str, str] = {
    "index.html": "<html><body>Hello from the origin group.</body></html>\n",
    "static/logo.txt": "a cached asset\n",
}


def replica_bucket_name(run_id: str) -> str:
    """Bucket names are global, so the run's id is in it; 3-63 characters, ending in a letter or digit."""
    return f"gd-{run_id}-replica".lower()[:63].rstrip("-.")


def _main_parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    return {"ReplicaRegion": REPLICA_REGION, "ReplicaBucketName": replica_bucket_name(ctx.run_id)}


def _replica_parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    # The replica bucket is the one the distribution's second origin already names (main's outputs).
    main = deployed["main"]
    return {"ReplicaBucketName": main.output("ReplicaBucketName"), "DistributionArn": main.output("DistributionArn")}


def _replica_region(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> str:
    return deployed["main"].output("ReplicaRegion")


PARTS = (
    TemplatePart(main_part(STACK, summary="the CloudFront distribution (origin group) and the primary bucket"),
                 _main_parameters),
    TemplatePart(PartSpec("replica", STACKS_DIR / STACK / "replica.yaml",
                          "the replica bucket, in the main part's ReplicaRegion (adopt it by its ARN)"),
                 _replica_parameters, _replica_region),
)


def buckets(deployment: Deployment) -> list[tuple[str, str]]:
    """(bucket, region) of the primary and the replica."""
    main, replica = deployment.main, deployment.part("replica")
    return [(main.output("PrimaryBucketName"), main.output("PrimaryRegion")),
            (replica.output("ReplicaBucketName"), replica.region)]


def seed_site(ctx: DeployContext, deployment: Deployment) -> None:
    """The same objects in both buckets (what replication would have copied), each saying which bucket it
    is in: S3 returns user metadata as `x-amz-meta-*` headers and CloudFront passes them on, so a client
    sees who served (the probes' identity)."""
    for role, (bucket, region) in zip(ROLES, buckets(deployment), strict=True):
        s3 = ctx.backend.client("s3", region=region)
        for key, body in SITE_OBJECTS.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/html",
                          Metadata={SERVED_BY_METADATA: f"{role}/{bucket}"})


def empty_buckets(ctx: DeployContext, deployment: Deployment) -> None:
    """CloudFormation will not delete a bucket with objects in it."""
    for bucket, region in buckets(deployment):
        empty_bucket(ctx.backend.client("s3", region=region), bucket)
