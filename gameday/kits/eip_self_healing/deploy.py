"""eip-self-healing's deployments: `default` (the stack as its README deploys it) and `watchdog` (the same
template with AppHealthWatchdog=true, as a second stack with its own zone), so a hung app can be played on
both side by side. The watchdog's timers scale with the time profile as a health check's interval and timeout
do (10 s and 2 s are 2 s and 1 s under fast)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from gameday.errors import ConfigError
from gameday.kits.blocks.template_kit import TemplateKit, TemplatePart, main_part
from gameday.kits.kit import DeployContext, Deployment
from gameday.stacks import DeployedStack
from localcloud.timescale import scaled

STACK = "eip-self-healing"
WATCHDOG = "watchdog"
WATCHDOG_SUFFIX = "-wd"


def _parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    return {"ZoneName": f"eip-{ctx.run_id}.gameday.test".lower()}


def watchdog_parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    """The template's watchdog defaults (10 s polls, 2 s to answer) at the profile's pace; 3 misses in a row."""
    return {**_parameters(ctx, deployed), "AppHealthWatchdog": "true",
            "WatchdogIntervalSeconds": str(max(1, round(scaled(ctx.profile, "alb.hc_interval", 10)))),
            "WatchdogTimeoutSeconds": str(max(1, round(scaled(ctx.profile, "alb.hc_timeout", 2)))),
            "WatchdogFailures": "3"}


def watchdog_kit() -> TemplateKit:
    """The `watchdog` deployment's parts (the run id it is deployed under names its stack and zone apart)."""
    return TemplateKit(STACK, "the stack with AppHealthWatchdog=true",
                       (TemplatePart(main_part(STACK, summary="VPC, ASG of one, EIP, hosted zone, app watchdog"),
                                     watchdog_parameters),))


@dataclasses.dataclass(frozen=True)
class EipKit(TemplateKit):
    """A TemplateKit whose `watchdog` deployment is the same template with the watchdog on, named apart."""

    watchdog: TemplateKit | None = None

    def deploy(self, ctx: DeployContext, deployment: str = "default") -> Deployment:
        if deployment == "default":
            return super().deploy(ctx, deployment)
        if deployment != WATCHDOG or self.watchdog is None:
            raise ConfigError(f"{STACK} has no deployment {deployment!r} (has: default, {WATCHDOG})")
        if ctx.adopting:  # an adopted stack is played as it is: the run checks its AppHealthWatchdog
            return self.watchdog.deploy(ctx, deployment)
        return self.watchdog.deploy(dataclasses.replace(ctx, run_id=ctx.run_id + WATCHDOG_SUFFIX,
                                                        run_tag=ctx.run_tag or ctx.run_id), deployment)
