"""static-ip-haproxy's deployments: the core one (`default`), a copy of its own for the load tests (`load`, so
the core's backend loss cannot spoil them), and the addresses-plus-one-copy of the deploy-by-replacement
scenario (`replacement`, gameday/kits/static_ip_haproxy/replacement.py). Each is named with its own suffix of
the run id, so their stacks and zones never collide, and all carry the run's tag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from gameday.errors import ConfigError
from gameday.kits.blocks.template_kit import TemplateKit
from gameday.kits.kit import DeployContext, Deployment, PartSpec, ScenarioSpec
from gameday.reports.markdown import ReportSection


class OwnDeployment(Protocol):
    """A deployment that is more than the template kit's: how it deploys, deletes, and knows its own."""

    def deploy(self, ctx: DeployContext) -> Deployment: ...

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None: ...

    def owns(self, deployment: Deployment) -> bool: ...


def own_context(ctx: DeployContext, tag: str) -> DeployContext:
    """The context of a further deployment: its own names, the run's exact tag. The run id's tail gives way to
    `tag` rather than growing: the zone is named after it, and the backends' certificates carry
    <color>.backend.<zone> as their common name, which may not pass 64 characters."""
    return replace(ctx, run_id=f"{ctx.run_id[:max(3, len(ctx.run_id) - len(tag) - 1)]}-{tag}",
                   run_tag=ctx.run_tag or ctx.run_id)


@dataclass(frozen=True)
class StaticIpKit:
    """The template kit for `default` and `load`; deployments with their own deploy (replacement) by name."""

    base: TemplateKit
    scenarios: tuple[ScenarioSpec, ...]
    own: Mapping[str, OwnDeployment]

    @property
    def stack_id(self) -> str:
        return self.base.stack_id

    @property
    def summary(self) -> str:
        return self.base.summary

    @property
    def parts(self) -> tuple[PartSpec, ...]:
        return self.base.parts

    @property
    def report_section(self) -> ReportSection | None:
        return self.base.report_section

    def deploy(self, ctx: DeployContext, deployment: str) -> Deployment:
        if deployment == "default":
            return self.base.deploy(ctx)
        if deployment in self.own:
            return self.own[deployment].deploy(ctx)
        if deployment == "load":  # an --existing-stack is adopted as it is, for the load tests too
            return self.base.deploy(ctx if ctx.adopting else own_context(ctx, "load"))
        raise ConfigError(f"{self.stack_id} has no deployment {deployment!r}")

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        owner = next((own for own in self.own.values() if own.owns(deployment)), None)
        if owner is not None:
            owner.delete(ctx, deployment)
        else:
            self.base.delete(ctx, deployment)
