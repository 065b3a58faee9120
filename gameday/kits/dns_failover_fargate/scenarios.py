"""dns-failover-fargate's scenario: the ECS service scales to zero; Route 53's health check sees the ALB's 503s
and app.<zone> fails over to the CloudFront + S3 page that says `Fallback.`; scaling back (the revert) fails
back. Clients resolve the app name through each resolver at every request, so the report shows what the
resolver cache adds; the verdict stands on the times each client got the fallback page and got the service
back (failback, measured after the revert)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from gameday.analysis import FailoverResult
from gameday.backends.base import Backend, Resolver, public_resolvers
from gameday.dnsnames import resolve_name
from gameday.faults import Fault, ScaleEcsService
from gameday.kits.dns_failover_fargate import model
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import FailoverRun, Headline, Judgement, ScenarioResult, Verdict, WatchPolicy
from gameday.session import GameDay
from gameday.stacks import DeployedStack
from gameday.stopconditions import StopSpec
from gameday.timeline import Sample, Timeline

STACK = "dns-failover-fargate"
# Who answered, as AWS tells it too: the `Server` header. The tasks (stock nginx) send `nginx/<version>`
# and the ALB passes it on; CloudFront passes the fallback bucket's `AmazonS3`.
IDENTITY_HEADER = "server"
SERVICE_IDENTITY = "nginx/"
FALLBACK_IDENTITY = "AmazonS3"
POLICY = WatchPolicy(steady_consecutive=10, stable_window_s=2.0, watch_timeout_s=60.0, tail_s=25.0)

Judge = Callable[[FailoverRun, FailoverResult, float], Judgement]


def client_probe(resolver: Resolver) -> str:
    return f"http:app@{resolver.name}"


def primary_resolver(resolvers: Sequence[Resolver]) -> Resolver | None:
    """The client the verdict stands on: behind the caching resolver (what users get) when there is one,
    else asking the authoritative server itself."""
    for kind in ("caching", "authoritative"):
        found = [r for r in resolvers if r.kind == kind]
        if found:
            return found[0]
    return None


def service_probe(resolver: Resolver) -> str:
    return f"http:service@{resolver.name}"


def fargate_probes(stack: DeployedStack, resolvers: Sequence[Resolver], primary: Resolver, *,
                   rate_hz: float = 5.0) -> list[HttpProbe | DnsProbe]:
    """Per resolver: a client resolving app.<zone> through it at every request (the fallback page is what it
    should get during the fault), and the DNS answers; behind the primary resolver, a client that takes only
    the service's own answers as good (the steady state: the fallback page is `fallback` there)."""
    name = stack.output("AppName")
    probes: list[HttpProbe | DnsProbe] = [
        HttpProbe(client_probe(r), f"http://{name}/", rate_hz=rate_hz, timeout_s=2.0, dns_server=(r.host, r.port),
                  identity_header=IDENTITY_HEADER)
        for r in resolvers]
    probes.append(HttpProbe(service_probe(primary), f"http://{name}/", rate_hz=rate_hz, timeout_s=2.0,
                            dns_server=(primary.host, primary.port), identity_header=IDENTITY_HEADER,
                            expect_identity=SERVICE_IDENTITY))
    probes += [DnsProbe(f"dns:{r.name}", name, "A", server=(r.host, r.port), rate_hz=rate_hz) for r in resolvers]
    return probes


def _settled(samples: list[Sample], since: float, until: float, wanted: Callable[[Sample], bool]) -> float | None:
    """When the samples in [since, until] start being `wanted` for good (seconds after `since`)."""
    window = [s for s in samples if since <= s.sent_at <= until]
    last_unwanted = max((s.sent_at for s in window if not wanted(s)), default=None)
    settled = [s for s in window if last_unwanted is None or s.sent_at > last_unwanted]
    return round(settled[0].sent_at - since, 3) if settled else None


def is_fallback(sample: Sample) -> bool:
    return sample.status == 200 and (sample.served_by or "").startswith(FALLBACK_IDENTITY)


def is_service(sample: Sample) -> bool:
    return sample.status == 200 and (sample.served_by or "").startswith(SERVICE_IDENTITY)


@dataclass(frozen=True)
class ClientTimes:
    probe: str
    to_fallback_s: float | None  # fault -> this client gets the fallback page for good
    failback_s: float | None  # revert -> this client gets the service again for good


def client_times(timeline: Timeline, probe: str, fault_at: float) -> ClientTimes:
    samples = timeline.samples_of(probe)
    reverts = [e.at for e in timeline.events_of("fault.revert") if e.at >= fault_at]
    revert_at = min(reverts) if reverts else float("inf")
    end = max((s.sent_at for s in samples), default=fault_at)
    return ClientTimes(probe, _settled(samples, fault_at, revert_at, is_fallback),
                       _settled(samples, revert_at, end, is_service) if reverts else None)


def steady_on_the_service(timeline: Timeline, probe: str, fault_at: float, consecutive: int) -> str | None:
    """None when the answers that made the steady state (the last `consecutive` before the fault) came from
    the service itself; otherwise why not. The generic steady state takes any 200, and the fallback page is
    a 200 too: failing over from the fallback page would prove nothing."""
    before = [s for s in timeline.samples_of(probe) if s.sent_at < fault_at]
    steady = before[-consecutive:]
    if len(steady) == consecutive and all(is_service(s) for s in steady):
        return None
    fallback = sum(is_fallback(s) for s in steady)
    if not any(is_service(s) for s in before):
        return (f"the service never answered before the fault: {probe} got the fallback page {fallback} of the "
                f"last {len(steady)} times (is app.<zone> already failed over?)")
    return (f"the service did not answer steadily before the fault: of {probe}'s last {len(steady)} answers, "
            f"{sum(is_service(s) for s in steady)} came from the service, {fallback} were the fallback page")


def fallback_judge(resolvers: Sequence[Resolver], primary: str, failback_budget_s: float,
                   steady_consecutive: int = POLICY.steady_consecutive) -> Judge:
    """Passed when the service answered before the fault, the primary client got `Fallback.` within the
    budget and the service back within the failback budget; the message names every client's times."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        not_steady = steady_on_the_service(run.timeline, primary, fault_at, steady_consecutive)
        if not_steady is not None:
            return Judgement(Verdict.FAILED, f"{STACK}: steady state: {not_steady}")
        times = [client_times(run.timeline, client_probe(r), fault_at) for r in resolvers]
        summary = "; ".join(f"{t.probe}: fallback after {t.to_fallback_s} s, failback {t.failback_s} s" for t in times)
        main = next(t for t in times if t.probe == primary)
        if main.to_fallback_s is None:
            return Judgement(Verdict.FAILED, f"{STACK}: {primary} never settled on the fallback page; {summary}")
        headline = Headline("time to the fallback page", main.to_fallback_s)
        if main.to_fallback_s > run.budget_s:
            return Judgement(Verdict.FAILED, f"{STACK}: fallback after {main.to_fallback_s:.2f} s, over "
                             f"{run.budget_s:.1f} s; {summary}", headline)
        if main.failback_s is None or main.failback_s > failback_budget_s:
            return Judgement(Verdict.FAILED, f"{STACK}: failback {main.failback_s} s, budget "
                             f"{failback_budget_s:.1f} s; {summary}", headline)
        return Judgement(Verdict.PASSED, f"fallback page after {main.to_fallback_s:.2f} s (budget "
                         f"{run.budget_s:.1f} s), failback {main.failback_s:.2f} s (budget "
                         f"{failback_budget_s:.1f} s); {summary}", headline)

    return judge


def scale_service_to_zero(backend: Backend, deployment: Deployment) -> Fault:
    return ScaleEcsService(backend, deployment.output("ClusterName"), deployment.output("ServiceName"), desired=0)


def run_scale_to_zero(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    resolvers = public_resolvers(game.backend.resolvers())
    primary = primary_resolver(resolvers)
    if primary is None:  # the clients resolve the app name themselves: without a resolver there is no client
        named = ", ".join(f"{r.name} ({r.kind})" for r in resolvers) or "none"
        return [record_not_run(game, spec, f"{game.backend.name} names no caching or authoritative resolver "
                                           f"(resolvers: {named}); pass --resolver")]
    client = client_probe(primary)
    stack = deployment.main
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=spec.faults[0].build(game.backend, deployment),
        probes=fargate_probes(stack, resolvers, primary), primary_probe=client, budget_key=spec.budget_key,
        ready_probes=[service_probe(primary)],
        prediction=spec.predict(game.profile, stack) if spec.predict else None, policy=POLICY,
        stop=replace(spec.stop, probe=client),  # the floor watches the client the verdict stands on
        judge=fallback_judge(resolvers, client, game.budget(STACK, "failback", spec.name)),
        dns_target=[resolve_name(game.backend, stack.output("FallbackDomainName"))])]


SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/scale-to-zero-and-back", STACK,
        "scale the ECS service to zero until clients get the CloudFront page 'Fallback.'; the revert fails back",
        (FaultSpec("scale-ecs-service", "the stack's ECS service (outputs ClusterName, ServiceName)",
                   "the desired count back as it was (failback)", scale_service_to_zero),),
        run_scale_to_zero, StopSpec(probe="http:app@caching", floor=0.2), predict=model.scale_to_zero),
)
