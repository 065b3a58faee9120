"""The dns-failover-fargate game day on localcloud: clients get `Fallback.` after the health check's
interval x threshold + propagation (+ what is left of the TTL behind a caching resolver), the ALB answers
503 meanwhile, and the revert (desired count back) fails back."""

from __future__ import annotations

import pytest

from fixtures.scenarios import Failover
from gameday import model
from gameday.backends.base import Backend
from gameday.fargate_run import client_probe, client_times, deploy_fargate, empty_fallback_bucket
from gameday.model.dns_failover_fargate import alias_ttl, authoritative_prediction
from gameday.run import RunPaths
from gameday.stacks import delete
from scenarios.test_dns_failover_fargate import run_scale_to_zero

pytestmark = pytest.mark.integration

STACK = "dns-failover-fargate"


def test_scale_to_zero_fails_over_as_predicted_and_back(backend: Backend, run_paths: RunPaths,
                                                        failover: Failover) -> None:
    stack = deploy_fargate(backend, f"{run_paths.run_id}-fgt", "fgt.gameday.test")
    try:
        result = run_scale_to_zero(failover, stack)
        desired = backend.client("ecs").describe_services(
            cluster=stack.output("ClusterName"), services=[stack.output("ServiceName")])["services"][0]["desiredCount"]
    finally:
        empty_fallback_bucket(backend, stack)
        delete(backend, stack)

    assert result.passed, result.message
    assert desired == 2  # the fault was reverted
    prediction = model.predict(STACK, "scale-ecs-service", failover.profile, stack)
    assert prediction is not None and result.fault_at is not None
    kinds = {r.kind: r for r in backend.resolvers()}
    direct = client_times(result.timeline, client_probe(kinds["authoritative"]), result.fault_at)
    cached = client_times(result.timeline, client_probe(kinds["caching"]), result.fault_at)
    expected = authoritative_prediction(prediction)  # fast: 1.1 + 3 x 2 + 1.1 = 8.2 s
    assert direct.to_fallback_s is not None and cached.to_fallback_s is not None
    assert abs(direct.to_fallback_s - expected) <= 0.2 * expected, (direct, expected)
    assert direct.to_fallback_s - 0.5 <= cached.to_fallback_s <= (expected + alias_ttl(failover.profile)) * 1.2
    assert direct.failback_s is not None and cached.failback_s is not None
    statuses = {s.status for s in result.timeline.samples_of(client_probe(kinds["authoritative"]))
                if s.sent_at >= result.fault_at}
    assert 503 in statuses  # the ALB with no registered target, until DNS moved
