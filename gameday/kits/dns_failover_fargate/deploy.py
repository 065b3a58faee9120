"""Deploying dns-failover-fargate: one template, a certificate for its HTTPS listener requested through ACM
unless `--param CertificateArn=...` names one, and the fallback page put in (and emptied out of) its bucket."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from gameday.backends.base import Backend
from gameday.errors import DeployError
from gameday.kits.blocks.template_kit import TemplateKit, empty_bucket
from gameday.kits.kit import DeployContext, Deployment
from gameday.stacks import DeployedStack

log = logging.getLogger(__name__)

STACK = "dns-failover-fargate"
FALLBACK_PAGE = b"<html><body>Fallback.</body></html>\n"
CERTIFICATE = "CertificateArn"


def zone_name(ctx: DeployContext) -> str:
    return ctx.parameters.get("ZoneName") or f"fg-{ctx.run_id}.gameday.test".lower()


def parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    return {"ZoneName": zone_name(ctx)}


def put_fallback_page(ctx: DeployContext, deployment: Deployment) -> None:
    ctx.backend.client("s3").put_object(Bucket=deployment.output("FallbackBucketName"), Key="index.html",
                                        Body=FALLBACK_PAGE, ContentType="text/html")


def empty_fallback_bucket(ctx: DeployContext, deployment: Deployment) -> None:
    """CloudFormation cannot delete a bucket that still holds objects."""
    empty_bucket(ctx.backend.client("s3"), deployment.output("FallbackBucketName"))


def request_certificate(backend: Backend, zone: str) -> str:
    try:
        return str(backend.client("acm").request_certificate(DomainName=f"*.{zone}")["CertificateArn"])
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"could not request a certificate for *.{zone} (or pass --param "
                          f"{STACK}.{CERTIFICATE}=ARN): {exc}", stack=STACK) from exc


def forget_certificate(backend: Backend, arn: str) -> None:
    """Best effort: a certificate left behind costs nothing and must not hide the scenario's verdict."""
    try:
        backend.client("acm").delete_certificate(CertificateArn=arn)
    except (BotoCoreError, ClientError) as exc:
        log.warning("could not delete certificate %s (delete it by hand): %s", arn, exc)


@dataclass(frozen=True)
class FargateKit(TemplateKit):
    """A TemplateKit that requests the HTTPS listener's certificate when the run passes none (the template's
    CertificateArn parameter), and deletes it again after the stack. An adopted stack has its own."""

    def deploy(self, ctx: DeployContext, deployment: str = "default") -> Deployment:
        if ctx.adopting or CERTIFICATE in ctx.parameters:
            return super().deploy(ctx, deployment)
        arn = request_certificate(ctx.backend, zone_name(ctx))
        try:
            return super().deploy(replace(ctx, parameters={**ctx.parameters, CERTIFICATE: arn}), deployment)
        except BaseException:
            forget_certificate(ctx.backend, arn)
            raise

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        super().delete(ctx, deployment)
        requested = deployment.main.parameters.get(CERTIFICATE, "")
        if requested and not deployment.adopted and CERTIFICATE not in ctx.parameters:
            forget_certificate(ctx.backend, requested)
