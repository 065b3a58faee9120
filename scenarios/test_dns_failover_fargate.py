"""dns-failover-fargate: the ECS service scales to zero; Route 53's health check sees the ALB's 503s and
app.<zone> fails over to the CloudFront + S3 page that says `Fallback.`; scaling back (the revert) fails
back. Clients resolve the name through each resolver at every request, so the report shows what the
resolver cache adds."""

from __future__ import annotations

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import StackOverrides
from gameday.fargate_run import client_probe, deploy_fargate, empty_fallback_bucket, fallback_judge, fargate_probes
from gameday.faults import ScaleEcsService
from gameday.origin_group_run import resolve_name
from gameday.run import RunPaths
from gameday.scenario import ScenarioResult, WatchPolicy
from gameday.stacks import DeployedStack, delete

pytestmark = [pytest.mark.stack("dns-failover-fargate")]

STACK = "dns-failover-fargate"


def run_scale_to_zero(failover: Failover, stack: DeployedStack) -> ScenarioResult:
    resolvers = failover.backend.resolvers()
    caching = [r for r in resolvers if r.kind == "caching"] or resolvers
    primary = client_probe(caching[0])
    return failover.run(
        stack_id=STACK, scenario="scale-to-zero-and-back", stack=stack,
        fault=ScaleEcsService(failover.backend, stack.output("ClusterName"), stack.output("ServiceName"), desired=0),
        probes=fargate_probes(stack, resolvers), primary_probe=primary,
        policy=WatchPolicy(steady_consecutive=10, stable_window_s=2.0, watch_timeout_s=60.0, tail_s=25.0),
        judge=fallback_judge(resolvers, primary, failover.profile.name),
        dns_target=[resolve_name(failover.backend, stack.output("FallbackDomainName"))])


@pytest.mark.scenario
@pytest.mark.fault("scale-ecs-service")
def test_scale_to_zero_serves_fallback_and_fails_back(backend, run_paths: RunPaths,  # type: ignore[no-untyped-def]
                                                       failover: Failover, stack_overrides: StackOverrides) -> None:
    stack = deploy_fargate(backend, f"{run_paths.run_id}-fg", f"fg-{run_paths.run_id}.gameday.test".lower(),
                           **stack_overrides(STACK))
    try:
        result = run_scale_to_zero(failover, stack)
    finally:
        empty_fallback_bucket(backend, stack)
        delete(backend, stack)
    assert result.passed, result.message
