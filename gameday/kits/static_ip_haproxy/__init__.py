"""The static-ip-haproxy kit: four static addresses, each a HAProxy node (ASG of one) behind a Route 53 health
check, weighted answers naming only the healthy nodes; a blue/green backend behind them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gameday.kits.blocks.template_kit import TemplateKit, TemplatePart, main_part
from gameday.kits.kit import DeployContext
from gameday.kits.static_ip_haproxy.deployments import StaticIpKit
from gameday.kits.static_ip_haproxy.health_scenarios import HEALTH_SCENARIOS
from gameday.kits.static_ip_haproxy.load_scenarios import LOAD_SCENARIOS
from gameday.kits.static_ip_haproxy.model import n_minus_one
from gameday.kits.static_ip_haproxy.replacement import REPLACEMENT_SCENARIOS, Replacement
from gameday.kits.static_ip_haproxy.scenarios import SCENARIOS, STACK
from gameday.stacks import DeployedStack
from localcloud.timescale import scaled


def _parameters(ctx: DeployContext, deployed: Mapping[str, DeployedStack]) -> Mapping[str, str]:
    """The zone is the run's own; the record TTL scales with the profile (a caching client's extra wait), and
    the backend TTL is short outside realistic so the blue/green switch fits the fast budget."""
    return {"ZoneName": f"sih-{ctx.run_id}.gameday.test".lower(),
            "RecordTtl": str(round(scaled(ctx.profile, "route53.record_ttl", 60))),
            "BackendTtl": "1" if ctx.profile.name != "realistic" else "5"}


TEMPLATE_KIT = TemplateKit(STACK, "four static addresses, each a HAProxy node behind a Route 53 health check; weighted "
                         "answers name only the healthy nodes",
                  (TemplatePart(main_part(STACK, summary="VPC, four proxy ASGs of one with EIPs, health-checked "
                                                         "weighted records, blue/green backend"), _parameters),),
                  SCENARIOS)
# The core scenarios, then the extended ones; the load tests and deploy by replacement on deployments of their own.
# Before the first fault, the four proxies' N-1 capacity at the configured load (gameday preflight).
KIT = StaticIpKit(TEMPLATE_KIT, tuple(replace(s, preflight=(*s.preflight, n_minus_one))
                                      for s in SCENARIOS + LOAD_SCENARIOS + HEALTH_SCENARIOS) + REPLACEMENT_SCENARIOS,
                  {"replacement": Replacement(_parameters)})
