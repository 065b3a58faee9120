"""The eip-self-healing kit: one instance in an Auto Scaling group of one, re-claiming its Elastic IP at boot."""

from __future__ import annotations

from collections.abc import Mapping

from gameday.kits.blocks.template_kit import TemplatePart, main_part
from gameday.kits.eip_self_healing.data import DATA_SCENARIOS
from gameday.kits.eip_self_healing.deploy import EipKit, watchdog_kit
from gameday.kits.eip_self_healing.health import HEALTH_SCENARIOS
from gameday.kits.eip_self_healing.scenarios import SCENARIOS, STACK
from gameday.kits.kit import DeployContext
from gameday.stacks import DeployedStack


def _parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    return {"ZoneName": f"eip-{ctx.run_id}.gameday.test".lower()}


KIT = EipKit(STACK, "one EC2 instance in an ASG of one; its user data re-associates an Elastic IP at boot",
             (TemplatePart(main_part(STACK, summary="VPC, ASG of one, EIP, hosted zone"), _parameters),),
             (*SCENARIOS, *HEALTH_SCENARIOS, *DATA_SCENARIOS), watchdog=watchdog_kit())
