"""The spot-vpc-origin kit: a private IPv6 Spot instance behind a CloudFront VPC origin, in four variants
(user data, lifecycle hook -> SNS -> Lambda, Cloud Map, a fixed-address network interface) deployed side by side
and broken at the same moment."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.kits.blocks.template_kit import check_parameters
from gameday.kits.kit import DeployContext, Deployment, PartSpec, ScenarioSpec, one_per_part
from gameday.kits.spot_vpc_origin import deploy
from gameday.kits.spot_vpc_origin.report import variants_compared
from gameday.kits.spot_vpc_origin.scenarios import SCENARIOS
from gameday.reports.markdown import ReportSection


@dataclass(frozen=True)
class SpotKit:
    """Deployments: `default` (the four variants) and `cleanup` (the lifecycle-hook variant with its
    terminating hook, only for the extended scenarios about instances leaving the group). Parts:
    `<variant>.origin` and `<variant>.edge`."""

    stack_id: str = deploy.STACK
    summary: str = ("a private IPv6 Spot instance behind a CloudFront VPC origin; four ways to keep its AAAA on "
                    "the instance (three move the record, one a fixed-address interface), compared side by side")
    parts: tuple[PartSpec, ...] = deploy.PARTS
    scenarios: tuple[ScenarioSpec, ...] = SCENARIOS
    report_section: ReportSection | None = variants_compared

    def deploy(self, ctx: DeployContext, deployment: str = "default") -> Deployment:
        one_per_part(self.parts, ctx.existing, self.stack_id)
        check_parameters(self.stack_id, self.parts, ctx.parameters)
        return deploy.deploy(ctx, deployment)

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        if isinstance(deployment, deploy.SpotDeployment):
            deploy.delete_variants(ctx.backend, deployment.variants)


KIT = SpotKit()
