"""multivalue-pair: a team's own stack, tested with gameday's generic blocks only (no reference stack code).

Two web nodes, each alone in its Auto Scaling group and claiming its own Elastic IP at boot, behind one
multivalue-answer A record per address with a Route 53 health check. `gameday run --stacks-dir docs/examples
--stack multivalue-pair` deploys template.yaml, waits for the health-checked steady state, kills node 1 and
judges the answers: its address must leave them, then come back once the group replaced the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gameday.kits.blocks.dns_node_loss import NodeLoss
from gameday.kits.blocks.template_kit import TemplateKit, TemplatePart, main_part
from gameday.kits.kit import DeployContext
from gameday.stacks import DeployedStack
from localcloud.timescale import scaled

HERE = Path(__file__).resolve().parent
STACK = HERE.name  # the folder's name is the stack id: multivalue-pair
TEMPLATE = HERE / "template.yaml"


def parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    """What gameday passes when it deploys (not when it adopts): a zone of the run's own, and the TTL scaled
    like the profile scales AWS's 60 s."""
    return {"ZoneName": f"pair-{ctx.run_id}.gameday.test".lower(),
            "RecordTtl": str(round(scaled(ctx.profile, "route53.record_ttl", 60)))}


# Node 1 (first in the outputs NodeGroups / NodeIps) dies; the budget keys are in ./budgets.toml. The nodes
# name themselves in X-Served-By by instance id: a 2xx from anyone else is not the service.
NODE_LOSS = NodeLoss(STACK, TEMPLATE, name_output="ServiceName", groups_output="NodeGroups",
                     addresses_output="NodeIps", node=0, back_budget="replacement", expect_identity="i-")

KIT = TemplateKit(
    STACK, "two nodes in ASGs of one, each claiming its Elastic IP at boot; multivalue health-checked records",
    (TemplatePart(main_part(STACK, HERE, "VPC, two ASGs of one, two EIPs, health checks, multivalue records"),
                  parameters),),
    (NODE_LOSS.spec("terminate-one-node",
                    "terminate node 1: its address leaves the answers, then comes back once its group "
                    "replaced it and the replacement re-claimed the address",
                    budgets=HERE / "budgets.toml"),),
)
