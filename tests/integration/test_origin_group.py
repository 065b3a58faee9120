"""The origin-group game day on localcloud: each fault is hidden from users at the predicted per-request
price, the replica serves while it holds, and every fault is reverted (failback is immediate)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from fixtures.scenarios import Failover
from gameday import model
from gameday.backends.base import Backend
from gameday.faults import DenyBucketPolicy, ObjectsMissing, RegionUnreachable
from gameday.origin_group_run import HIT_PROBE, MISS_PROBE, resolve_name
from gameday.penalty import measure
from gameday.regional import OriginGroupStacks, delete_origin_group, deploy_origin_group
from gameday.run import RunPaths
from scenarios.test_origin_group import run_origin_group

pytestmark = pytest.mark.integration

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def origin_group(backend: Backend, run_paths: RunPaths) -> Iterator[OriginGroupStacks]:
    stacks = deploy_origin_group(backend, f"{run_paths.run_id}-ogt")
    try:
        yield stacks
    finally:
        delete_origin_group(backend, stacks)


def served_by(backend: Backend, stacks: OriginGroupStacks, path: str = "/index.html") -> str:
    address = resolve_name(backend, stacks.output("DistributionDomainName"))
    with _DIRECT.open(f"http://{address}{path}", timeout=30) as response:
        assert response.status == 200
        return str(response.headers["X-Served-By"])


def test_unreachable_primary_costs_attempts_times_timeout(origin_group: OriginGroupStacks,
                                                          failover: Failover) -> None:
    fault = RegionUnreachable(failover.backend, origin_group.output("PrimaryRegion"),
                              within=origin_group.output("PrimaryBucketName"))
    result = run_origin_group(failover, origin_group, fault, watch_s=4.0)

    assert result.passed, result.message
    predicted = model.predict("origin-group", "region-unreachable", failover.profile, origin_group.primary)
    assert predicted is not None and predicted.mean_s == pytest.approx(6.0)  # fast: 3 attempts x 2 s
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=predicted.mean_s + 0.5)
    assert penalty.errors == 0 and penalty.p50_s is not None
    assert abs(penalty.p50_s - predicted.mean_s) <= 0.2 * predicted.mean_s, penalty.describe()
    assert set(penalty.served_by) == {"replica-s3"}
    cached = measure(result.timeline, HIT_PROBE, result.fault_at, settle_s=predicted.mean_s + 0.5)
    assert cached.errors == 0 and cached.p50_s is not None and cached.p50_s < 0.5  # hits never reach an origin
    assert served_by(failover.backend, origin_group) == "primary-s3"  # reverted: failback is immediate


def test_denying_policy_fails_over_per_request_and_is_restored(origin_group: OriginGroupStacks,
                                                               failover: Failover) -> None:
    s3 = failover.backend.client("s3")
    bucket = origin_group.output("PrimaryBucketName")
    before = s3.get_bucket_policy(Bucket=bucket)["Policy"]

    result = run_origin_group(failover, origin_group, DenyBucketPolicy(failover.backend, bucket), watch_s=3.0)

    assert result.passed, result.message
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=0.5)
    assert penalty.served_by == {"replica-s3": penalty.requests} and penalty.errors == 0
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(before)
    assert served_by(failover.backend, origin_group) == "primary-s3"


def test_missing_objects_fail_over_and_are_put_back(origin_group: OriginGroupStacks, failover: Failover) -> None:
    bucket = origin_group.output("PrimaryBucketName")
    fault = ObjectsMissing(failover.backend, bucket, ["index.html"], region=origin_group.output("PrimaryRegion"))

    result = run_origin_group(failover, origin_group, fault, watch_s=3.0)

    assert result.passed, result.message
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=0.5)
    assert penalty.served_by == {"replica-s3": penalty.requests}
    body = failover.backend.client("s3").get_object(Bucket=bucket, Key="index.html")["Body"].read()
    assert b"Hello from the origin group." in body
    assert {"fault.inject", "fault.revert"} <= {e.kind for e in result.timeline.events}


def test_a_scenario_that_breaks_midway_still_reverts_the_fault(origin_group: OriginGroupStacks,
                                                               failover: Failover) -> None:
    from gameday.faults import RollbackJournal
    from gameday.origin_group_run import cdn_probes
    from gameday.scenario import FailoverRun, WatchPolicy, run_failover

    def crash(timeline: object, fault_at: float) -> None:
        raise RuntimeError("the suite broke while the region was unreachable")

    address = resolve_name(failover.backend, origin_group.output("DistributionDomainName"))
    run = FailoverRun(
        backend=failover.backend, stack_id="origin-group", scenario="crash-midway",
        fault=RegionUnreachable(failover.backend, origin_group.output("PrimaryRegion"),
                                within=origin_group.output("PrimaryBucketName")),
        probes=cdn_probes(address, timeout_s=10.0), primary_probe=MISS_PROBE, budget_s=7.2, prediction=None,
        journal=RollbackJournal(failover.paths.journal), timeline=failover.new_timeline("origin-group", "crash"),
        clock=failover.clock, policy=WatchPolicy(steady_consecutive=5, fixed_watch_s=5.0), progress=crash)

    with pytest.raises(RuntimeError, match="suite broke"):
        run_failover(run)

    assert served_by(failover.backend, origin_group) == "primary-s3"  # reachable again
    assert [e.kind for e in run.timeline.events if e.kind.startswith("fault.")] == ["fault.inject", "fault.revert"]
