"""The dns-failover-fargate game day on localcloud: clients get `Fallback.` after the health check's
interval x threshold + propagation (+ what is left of the TTL behind a caching resolver), the ALB answers
503 meanwhile, and the revert (desired count back) fails back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gameday.kits.blocks.template_kit import TemplatePart, main_part
from gameday.kits.dns_failover_fargate import KIT
from gameday.kits.dns_failover_fargate.deploy import parameters
from gameday.kits.dns_failover_fargate.model import alias_ttl, authoritative_prediction
from gameday.kits.dns_failover_fargate.scenarios import SCENARIOS, STACK, client_probe, client_times
from gameday.kits.kit import DeployContext
from gameday.session import GameDay
from gameday.stacks import STACKS_DIR

pytestmark = pytest.mark.integration


def test_scale_to_zero_fails_over_as_predicted_and_back(game_day: GameDay) -> None:
    backend = game_day.backend
    ctx = DeployContext(backend, game_day.profile, f"{game_day.paths.run_id}-fgt")
    spec = SCENARIOS[0]
    deployment = KIT.deploy(ctx, spec.deployment)
    try:
        [result] = spec.run(game_day, deployment, spec)
        desired = backend.client("ecs").describe_services(
            cluster=deployment.output("ClusterName"),
            services=[deployment.output("ServiceName")])["services"][0]["desiredCount"]
        certificate = deployment.main.parameters["CertificateArn"]
        adopting = replace(ctx, existing={"main": deployment.main.name})
        adopted = KIT.deploy(adopting, spec.deployment)
        KIT.delete(adopting, adopted)  # an adopted stack: nothing deleted, not even its certificate
        kept = {c["CertificateArn"] for c in backend.client("acm").list_certificates()["CertificateSummaryList"]}
    finally:
        KIT.delete(ctx, deployment)

    assert result.passed, result.message
    assert desired == 2  # the fault was reverted
    assert certificate.startswith("arn:aws:acm:")  # requested for the HTTPS listener: no --param named one
    assert adopted.adopted and adopted.output("AppName") == deployment.output("AppName") and certificate in kept
    prediction = result.prediction
    assert prediction is not None and result.fault_at is not None
    kinds = {r.kind: r for r in backend.resolvers()}
    direct = client_times(result.timeline, client_probe(kinds["authoritative"]), result.fault_at)
    cached = client_times(result.timeline, client_probe(kinds["caching"]), result.fault_at)
    expected = authoritative_prediction(prediction)  # fast: 1.1 + 3 x 2 + 1.1 = 8.2 s
    assert direct.to_fallback_s is not None and cached.to_fallback_s is not None
    assert abs(direct.to_fallback_s - expected) <= 0.2 * expected, (direct, expected)
    assert direct.to_fallback_s - 0.5 <= cached.to_fallback_s <= (expected + alias_ttl(game_day.profile)) * 1.2
    assert direct.failback_s is not None and cached.failback_s is not None
    statuses = {s.status for s in result.timeline.samples_of(client_probe(kinds["authoritative"]))
                if s.sent_at >= result.fault_at}
    assert 503 in statuses  # the ALB with no registered target, until DNS moved
    listed = backend.client("acm").list_certificates()["CertificateSummaryList"]
    assert certificate not in {c["CertificateArn"] for c in listed}  # deleted with the stack



def test_a_stack_already_on_the_fallback_page_fails_its_steady_state_saying_so(game_day: GameDay,
                                                                               tmp_path: Path) -> None:
    """PRIMARY and SECONDARY swapped: app.<zone> answers the fallback page (a 200) from the start. The steady
    state takes only the service's own answers (Server: nginx/...), so the scenario fails there, naming the
    fallback, and no fault is injected: "failing over" from the fallback page would prove nothing."""
    template = (STACKS_DIR / STACK / "template.yaml").read_text()
    assert template.count("Failover: PRIMARY") == template.count("Failover: SECONDARY") == 1
    swapped = template.replace("Failover: PRIMARY", "Failover: TEMPORARY").replace(
        "Failover: SECONDARY", "Failover: PRIMARY").replace("Failover: TEMPORARY", "Failover: SECONDARY")
    (tmp_path / "template.yaml").write_text(swapped)
    kit = replace(KIT, template_parts=(TemplatePart(main_part(STACK, tmp_path), parameters),))
    ctx = DeployContext(game_day.backend, game_day.profile, f"{game_day.paths.run_id}-swap")
    spec = SCENARIOS[0]
    deployment = kit.deploy(ctx, spec.deployment)
    try:
        [result] = spec.run(game_day, deployment, spec)
    finally:
        kit.delete(ctx, deployment)

    assert not result.passed
    assert result.fault_at is None, "the fault must not be injected from the fallback page"
    assert "steady state never reached" in result.message and "http:service@caching" in result.message
    assert "fallback" in result.message, result.message
