"""origin-group's scenarios: the primary S3 bucket fails three ways; CloudFront's origin group hides it from
users at a per-request price (one round trip for an error code, attempts x timeout for an unreachable region).

There is no failover *time* here: each scenario watches a fixed window and judges the penalty (budget in
gameday.toml) and that no GET reached users as an error. The probes reach the distribution at its name
resolved through the cloud's DNS, as a client would.
"""

from __future__ import annotations

from gameday.backends.base import Backend
from gameday.dnsnames import resolve_name
from gameday.errors import ConfigError
from gameday.faults import DenyBucketPolicy, Fault, ObjectsMissing, RegionUnreachable
from gameday.kits.blocks.origin_failover import penalty_judge
from gameday.kits.kit import Deployment, FaultSpec, Predictor, ScenarioSpec
from gameday.kits.origin_group import model
from gameday.kits.origin_group.deploy import ROLES, SERVED_BY_HEADER, STACK
from gameday.kits.play import record_not_run
from gameday.probes import HttpProbe
from gameday.scenario import ScenarioResult, WatchPolicy
from gameday.session import GameDay

MISS_PROBE = "http:cdn-miss"
HIT_PROBE = "http:cdn-hit"
PRIMARY_PROBE = "http:cdn-primary"  # steady only when the primary itself serves: nothing failed over yet
WATCH_S = 4.0  # after the expected penalty: long enough for ~16 cache misses at 4 Hz to be judged
PRIMARY_BUCKET = "the primary bucket of the distribution's origin group (output PrimaryBucketName)"


def cdn_probes(address: str, *, timeout_s: float, rate_hz: float = 4.0) -> list[HttpProbe]:
    """A cache-miss page (CachingDisabled: every request reaches an origin) and a cached asset, good only when
    one of the group's buckets served them (a 2xx from anyone else is a fallback; S3's 301 for a bucket
    asked in the wrong region is an error); and the page again, good only from the primary bucket (the
    steady state: before the fault nothing may have failed over already)."""
    def probe(name: str, path: str, expect: tuple[str, ...]) -> HttpProbe:
        return HttpProbe(name, f"http://{address}/{path}", rate_hz=rate_hz, timeout_s=timeout_s,
                         identity_header=SERVED_BY_HEADER, expect_identity=expect)

    group = tuple(f"{role}/" for role in ROLES)
    return [probe(MISS_PROBE, "index.html", group), probe(HIT_PROBE, "static/logo.txt", group),
            probe(PRIMARY_PROBE, "index.html", group[:1])]


def deny_primary(backend: Backend, deployment: Deployment) -> Fault:
    return DenyBucketPolicy(backend, deployment.output("PrimaryBucketName"))


def primary_region_unreachable(backend: Backend, deployment: Deployment) -> Fault:
    return RegionUnreachable(backend, deployment.output("PrimaryRegion"),
                             within=deployment.output("PrimaryBucketName"))


def index_missing(backend: Backend, deployment: Deployment) -> Fault:
    return ObjectsMissing(backend, deployment.output("PrimaryBucketName"), ["index.html"],
                          region=deployment.output("PrimaryRegion"))


def run_penalty(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    """One fault on the primary, probes on the distribution, a fixed watch of the expected penalty plus
    WATCH_S; judged on the per-request penalty of the cache-miss probe."""
    if not game.backend.resolvers():
        return [record_not_run(game, spec, f"the {game.backend.name} backend has no DNS resolver to find the "
                                           "distribution as a client would (give one with --resolver)")]
    stack = deployment.main
    prediction = spec.predict(game.profile, stack) if spec.predict else None
    expected = prediction.mean_s if prediction else 0.0
    address = resolve_name(game.backend, stack.output("DistributionDomainName"))
    fault = spec.faults[0].build(game.backend, deployment)
    try:
        return [game.run(
            stack_id=STACK, scenario=spec.name, fault=fault, budget_key=spec.budget_key, prediction=prediction,
            probes=cdn_probes(address, timeout_s=min(60.0, 2 * expected + 5)), primary_probe=MISS_PROBE,
            ready_probes=(PRIMARY_PROBE,),
            policy=WatchPolicy(steady_consecutive=10, fixed_watch_s=WATCH_S + expected, tail_s=0.5),
            judge=penalty_judge(MISS_PROBE, settle_s=expected + 0.5), stop=spec.stop)]
    except ConfigError as exc:  # the fault refuses this backend (region-unreachable needs localcloud)
        return [record_not_run(game, spec, f"cannot run on the {game.backend.name} backend: {exc}")]


def _scenario(fault: FaultSpec, summary: str, predict: Predictor, *, local_only: str = "") -> ScenarioSpec:
    return ScenarioSpec(f"{STACK}/{fault.fault}", STACK, summary, (fault,), run_penalty, predict=predict,
                        backends=("localcloud",) if local_only else ("localcloud", "aws"), backend_note=local_only,
                        preflight=model.failover_codes_check(fault.fault))


# In the order the game day has always played them.
SCENARIOS = (
    _scenario(FaultSpec("region-unreachable", "S3 in the primary region (output PrimaryRegion)",
                        "the region reachable again", primary_region_unreachable),
              "the primary region's S3 black-holes (localcloud only): each cache miss pays attempts x "
              "connection timeout", model.region_unreachable,
              local_only="AWS has no way to take a region's S3 endpoint away from CloudFront"),
    _scenario(FaultSpec("deny-bucket-policy", PRIMARY_BUCKET, "the previous bucket policy back", deny_primary),
              "the primary bucket denies everyone (bucket policy): each cache miss pays a 403 round trip, the "
              "replica serves", model.deny_bucket_policy),
    _scenario(FaultSpec("objects-missing", f"index.html in {PRIMARY_BUCKET}", "the same bytes put back",
                        index_missing),
              "index.html is deleted from the primary bucket: S3 answers 403 (no ListBucket), the replica serves",
              model.objects_missing),
)
