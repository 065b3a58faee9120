"""Client profiles on the dns-failover-fargate game day (localcloud, fast): app.<zone> fails over to the
CloudFront page, and each client profile gets there when its way of finding the name lets it; summary.md has a
line per profile."""

from __future__ import annotations

import pytest

from gameday.clients import JVM_DNS_CACHE_S
from gameday.kits.dns_failover_fargate import KIT
from gameday.kits.dns_failover_fargate.scenarios import POLICY, SCENARIOS
from gameday.kits.kit import DeployContext
from gameday.reports.markdown import render_summary
from gameday.session import GameDay

pytestmark = pytest.mark.integration

SAMPLE_S = 0.5  # a profile probe samples at 2 Hz


def test_each_client_profile_reaches_the_fallback_page_in_its_own_time(game_day: GameDay) -> None:
    ctx = DeployContext(game_day.backend, game_day.profile, f"{game_day.paths.run_id}-prof")
    spec = SCENARIOS[0]
    deployment = KIT.deploy(ctx, spec.deployment)
    try:
        [result] = spec.run(game_day, deployment, spec)
    finally:
        KIT.delete(ctx, deployment)

    assert result.passed, result.message
    seen = {c.key: c for c in result.clients}
    assert set(seen) == {"fresh-authoritative", "fresh-caching", "keepalive", "dns-cache-30s", "resolve-once"}
    assert {(o.key, o.why) for o in result.clients_omitted} == {("ipv6-first", "ipv4-only")}  # an A record only
    direct, cached = seen["fresh-authoritative"].recovered_s, seen["fresh-caching"].recovered_s
    assert direct is not None and cached is not None and direct <= cached + SAMPLE_S
    # the runtime's cache was up to 30 s old when the caching resolver moved: it follows within 30 s of it
    jvm = seen["dns-cache-30s"].recovered_s
    assert jvm is None or cached - SAMPLE_S <= jvm <= cached + JVM_DNS_CACHE_S + 2 * POLICY.stable_window_s
    # resolved once, before the fault: the ALB's address, which answers 503 until the revert
    assert seen["resolve-once"].failed and seen["resolve-once"].recovered_s is None
    summary = render_summary({"run_id": "r", "passed": True, "backend": result.backend, "profile": result.profile,
                              "scenarios": [result.to_dict(with_timeline=False)]})
    assert "Client profiles (localcloud, time profile fast):" in summary
    for recovery in result.clients:
        assert f"- {recovery.line()}" in summary
    assert "- IPv6-first clients: omitted (ipv4-only)" in summary
