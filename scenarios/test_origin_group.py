"""origin-group: the primary S3 bucket fails three ways; CloudFront's origin group hides it from users at
a per-request price (one round trip for an error code, attempts x timeout for an unreachable region).

There is no failover *time* here: each scenario watches a fixed window and judges the penalty (budget in
gameday.toml) and that no GET reached users as an error.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import StackOverrides
from gameday import model
from gameday.backends.base import Backend
from gameday.faults import DenyBucketPolicy, ObjectsMissing, RegionUnreachable
from gameday.origin_group_run import MISS_PROBE, cdn_probes, resolve_name
from gameday.penalty import penalty_judge
from gameday.regional import OriginGroupStacks, delete_origin_group, deploy_origin_group
from gameday.run import RunPaths
from gameday.scenario import ScenarioResult, WatchPolicy

pytestmark = [pytest.mark.stack("origin-group")]

STACK = "origin-group"


@pytest.fixture(scope="module")
def origin_group(backend: Backend, run_paths: RunPaths,
                 stack_overrides: StackOverrides) -> Iterator[OriginGroupStacks]:
    stacks = deploy_origin_group(backend, f"{run_paths.run_id}-og", parameters=stack_overrides(STACK))
    try:
        yield stacks
    finally:
        delete_origin_group(backend, stacks)


def run_origin_group(failover: Failover, stacks: OriginGroupStacks, fault, watch_s: float) -> ScenarioResult:  # type: ignore[no-untyped-def]
    prediction = model.predict(STACK, fault.name, failover.profile, stacks.primary)
    expected = prediction.mean_s if prediction else 0.0
    address = resolve_name(failover.backend, stacks.output("DistributionDomainName"))
    return failover.run(
        stack_id=STACK, scenario=fault.name, fault=fault, stack=stacks.primary,
        probes=cdn_probes(address, timeout_s=min(60.0, 2 * expected + 5)), primary_probe=MISS_PROBE,
        policy=WatchPolicy(steady_consecutive=10, fixed_watch_s=watch_s + expected, tail_s=0.5),
        judge=penalty_judge(MISS_PROBE, settle_s=expected + 0.5))


@pytest.mark.scenario
@pytest.mark.fault("region-unreachable")
def test_region_unreachable(origin_group: OriginGroupStacks, failover: Failover) -> None:
    fault = RegionUnreachable(failover.backend, origin_group.output("PrimaryRegion"),
                              within=origin_group.output("PrimaryBucketName"))
    result = run_origin_group(failover, origin_group, fault, watch_s=4.0)
    assert result.passed, result.message


@pytest.mark.scenario
@pytest.mark.fault("deny-bucket-policy")
def test_primary_bucket_denies(origin_group: OriginGroupStacks, failover: Failover) -> None:
    fault = DenyBucketPolicy(failover.backend, origin_group.output("PrimaryBucketName"))
    result = run_origin_group(failover, origin_group, fault, watch_s=4.0)
    assert result.passed, result.message


@pytest.mark.scenario
@pytest.mark.fault("objects-missing")
def test_objects_missing_on_primary(origin_group: OriginGroupStacks, failover: Failover) -> None:
    fault = ObjectsMissing(failover.backend, origin_group.output("PrimaryBucketName"), ["index.html"],
                           region=origin_group.output("PrimaryRegion"))
    result = run_origin_group(failover, origin_group, fault, watch_s=4.0)
    assert result.passed, result.message
