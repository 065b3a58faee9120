"""The origin-group game day on localcloud: each fault is hidden from users at the predicted per-request
price, the replica serves while it holds, and every fault is reverted (failback is immediate)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from gameday.backends.base import Backend
from gameday.dnsnames import resolve_name
from gameday.errors import ConfigError
from gameday.faults import RegionUnreachable, RollbackJournal
from gameday.kits.blocks.origin_failover import measure
from gameday.kits.blocks.template_kit import empty_bucket
from gameday.kits.kit import DeployContext, Deployment
from gameday.kits.origin_group import KIT, model
from gameday.kits.origin_group.scenarios import HIT_PROBE, MISS_PROBE, SCENARIOS, cdn_probes
from gameday.scenario import FailoverRun, ScenarioResult, WatchPolicy, run_failover
from gameday.session import GameDay

pytestmark = pytest.mark.integration

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def origin_group(game_day: GameDay) -> Iterator[Deployment]:
    context = DeployContext(game_day.backend, game_day.profile, f"{game_day.paths.run_id}-ogt")
    deployment = KIT.deploy(context, "default")
    try:
        yield deployment
    finally:
        KIT.delete(context, deployment)


def play(game_day: GameDay, deployment: Deployment, name: str) -> ScenarioResult:
    spec = next(s for s in SCENARIOS if s.name == name)
    [result] = spec.run(game_day, deployment, spec)
    return result


def served_by(backend: Backend, deployment: Deployment, path: str = "/index.html") -> str:
    address = resolve_name(backend, deployment.output("DistributionDomainName"))
    with _DIRECT.open(f"http://{address}{path}", timeout=30) as response:
        assert response.status == 200
        return str(response.headers["X-Served-By"])


def replica_identity(deployment: Deployment) -> str:
    """What the probes read as who served: the object's own `x-amz-meta-served-by`, passed on by CloudFront."""
    return f"replica/{deployment.output('ReplicaBucketName')}"


def test_the_replica_is_its_own_stack_in_the_replica_region(origin_group: Deployment) -> None:
    replica = origin_group.part("replica")
    assert replica.region == origin_group.output("ReplicaRegion") == "us-west-2"
    assert replica.output("ReplicaBucketName") == origin_group.output("ReplicaBucketName")
    assert replica.parameters["DistributionArn"] == origin_group.output("DistributionArn")


def test_an_existing_deployment_is_adopted_part_by_part_and_never_deleted(origin_group: Deployment,
                                                                          game_day: GameDay) -> None:
    replica = origin_group.part("replica")
    context = DeployContext(game_day.backend, game_day.profile, "adopting",
                            existing={"main": origin_group.main.name, "replica": replica.stack_arn})

    adopted = KIT.deploy(context, "default")
    KIT.delete(context, adopted)  # adopted: neither the buckets nor the stacks are touched

    assert adopted.adopted and adopted.part("replica").region == replica.region
    assert adopted.output("DistributionDomainName") == origin_group.output("DistributionDomainName")
    assert served_by(game_day.backend, origin_group) == "primary-s3"
    wrong_region = replica.stack_arn.replace(f":{replica.region}:", ":eu-west-1:")
    with pytest.raises(ConfigError, match="replica is in us-west-2"):
        KIT.deploy(DeployContext(game_day.backend, game_day.profile, "adopting",
                                 existing={"main": origin_group.main.name, "replica": wrong_region}), "default")


def test_unreachable_primary_costs_attempts_times_timeout(origin_group: Deployment, game_day: GameDay) -> None:
    result = play(game_day, origin_group, "region-unreachable")

    assert result.passed, result.message
    predicted = model.region_unreachable(game_day.profile, origin_group.main)
    assert predicted.mean_s == pytest.approx(6.0)  # fast: 3 attempts x 2 s
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=predicted.mean_s + 0.5)
    assert penalty.errors == 0 and penalty.p50_s is not None
    assert abs(penalty.p50_s - predicted.mean_s) <= 0.2 * predicted.mean_s, penalty.describe()
    assert set(penalty.served_by) == {replica_identity(origin_group)}
    cached = measure(result.timeline, HIT_PROBE, result.fault_at, settle_s=predicted.mean_s + 0.5)
    assert cached.errors == 0 and cached.p50_s is not None and cached.p50_s < 0.5  # hits never reach an origin
    assert served_by(game_day.backend, origin_group) == "primary-s3"  # reverted: failback is immediate


def test_denying_policy_fails_over_per_request_and_is_restored(origin_group: Deployment,
                                                               game_day: GameDay) -> None:
    s3 = game_day.backend.client("s3")
    bucket = origin_group.output("PrimaryBucketName")
    before = s3.get_bucket_policy(Bucket=bucket)["Policy"]

    result = play(game_day, origin_group, "deny-bucket-policy")

    assert result.passed, result.message
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=0.5)
    assert penalty.served_by == {replica_identity(origin_group): penalty.requests} and penalty.errors == 0
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(before)
    assert served_by(game_day.backend, origin_group) == "primary-s3"


def test_missing_objects_fail_over_and_are_put_back(origin_group: Deployment, game_day: GameDay) -> None:
    bucket = origin_group.output("PrimaryBucketName")

    result = play(game_day, origin_group, "objects-missing")

    assert result.passed, result.message
    assert result.fault_at is not None
    penalty = measure(result.timeline, MISS_PROBE, result.fault_at, settle_s=0.5)
    assert penalty.served_by == {replica_identity(origin_group): penalty.requests}
    put_back = game_day.backend.client("s3").get_object(Bucket=bucket, Key="index.html")
    assert b"Hello from the origin group." in put_back["Body"].read()
    assert put_back["Metadata"] == {"served-by": f"primary/{bucket}"}  # who it is, not only its bytes
    assert {"fault.inject", "fault.revert"} <= {e.kind for e in result.timeline.events}


def test_a_scenario_that_breaks_midway_still_reverts_the_fault(origin_group: Deployment,
                                                               game_day: GameDay) -> None:
    def crash(timeline: object, fault_at: float) -> None:
        raise RuntimeError("the suite broke while the region was unreachable")

    address = resolve_name(game_day.backend, origin_group.output("DistributionDomainName"))
    run = FailoverRun(
        backend=game_day.backend, stack_id="origin-group", scenario="crash-midway",
        fault=RegionUnreachable(game_day.backend, origin_group.output("PrimaryRegion"),
                                within=origin_group.output("PrimaryBucketName")),
        probes=cdn_probes(address, timeout_s=10.0), primary_probe=MISS_PROBE, budget_s=7.2, prediction=None,
        journal=RollbackJournal(game_day.paths.journal), timeline=game_day.new_timeline("origin-group", "crash"),
        clock=game_day.clock, policy=WatchPolicy(steady_consecutive=5, fixed_watch_s=5.0), progress=crash)

    with pytest.raises(RuntimeError, match="suite broke"):
        run_failover(run)

    assert served_by(game_day.backend, origin_group) == "primary-s3"  # reachable again
    assert [e.kind for e in run.timeline.events if e.kind.startswith("fault.")] == ["fault.inject", "fault.revert"]


def _move_bucket(backend: Backend, bucket: str, source: str, destination: str, policy: str) -> None:
    """The bucket deleted in `source` and made again, same name, policy and objects, in `destination`."""
    old = backend.client("s3", region=source)
    objects: dict[str, Any] = {}
    for item in old.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = old.get_object(Bucket=bucket, Key=item["Key"])
        objects[item["Key"]] = (got["Body"].read(), got["ContentType"], got["Metadata"])
    empty_bucket(old, bucket)
    old.delete_bucket(Bucket=bucket)
    new = backend.client("s3", region=destination)
    new.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": destination})
    new.put_bucket_policy(Bucket=bucket, Policy=policy)
    for key, (body, content_type, metadata) in objects.items():
        new.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata)


@contextmanager
def replica_in(backend: Backend, deployment: Deployment, region: str) -> Iterator[None]:
    """The replica bucket lives in `region` while the distribution still addresses it in its own."""
    bucket, home = deployment.output("ReplicaBucketName"), deployment.part("replica").region
    policy = backend.client("s3", region=home).get_bucket_policy(Bucket=bucket)["Policy"]
    _move_bucket(backend, bucket, home, region, policy)
    try:
        yield
    finally:
        _move_bucket(backend, bucket, region, home, policy)


def test_a_replica_addressed_in_the_wrong_region_fails_the_scenario(origin_group: Deployment,
                                                                    game_day: GameDay) -> None:
    """Every failed-over request gets S3's 301 PermanentRedirect through CloudFront: no user got the page,
    so the scenario fails naming the redirects (a 3xx was once counted as served)."""
    with replica_in(game_day.backend, origin_group, "eu-west-1"):
        result = play(game_day, origin_group, "deny-bucket-policy")

    assert not result.passed and "http_3xx:301" in result.message, result.message
    assert result.fault_at is not None
    redirected = [s for s in result.timeline.samples_of(MISS_PROBE) if s.status == 301]
    assert redirected and all(not s.good and "301 redirect" in s.detail for s in redirected)
    assert served_by(game_day.backend, origin_group) == "primary-s3"  # reverted, the replica back home
