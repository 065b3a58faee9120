"""What the dns-failover-fargate scenarios need besides the generic flow: deploy (with the fallback page),
clients that resolve the app name through each resolver, and the times each client got the fallback page
and got the service back (failback, measured after the revert)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday import budgets
from gameday.backends.base import Backend, Resolver
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import Headline, Judgement
from gameday.stacks import DeployedStack, StackSpec, deploy
from gameday.timeline import Sample, Timeline

if TYPE_CHECKING:
    from gameday.analysis import FailoverResult
    from gameday.scenario import FailoverRun

STACK = "dns-failover-fargate"
FALLBACK_ORIGIN = "fallback-s3"  # the distribution's origin id: what CloudFront names as X-Served-By
FALLBACK_PAGE = b"<html><body>Fallback.</body></html>\n"


def deploy_fargate(backend: Backend, run_id: str, zone: str, **parameters: str) -> DeployedStack:
    """Deploy and put the fallback page in place. On localcloud a certificate is requested for the HTTPS
    listener (on AWS pass CertificateArn)."""
    if backend.name == "localcloud" and "CertificateArn" not in parameters:
        parameters["CertificateArn"] = backend.client("acm").request_certificate(
            DomainName=f"*.{zone}")["CertificateArn"]
    stack = deploy(backend, StackSpec(STACK, {"ZoneName": zone, **parameters}), run_id)
    backend.client("s3").put_object(Bucket=stack.output("FallbackBucketName"), Key="index.html",
                                    Body=FALLBACK_PAGE, ContentType="text/html")
    return stack


def empty_fallback_bucket(backend: Backend, stack: DeployedStack) -> None:
    backend.client("s3").delete_object(Bucket=stack.output("FallbackBucketName"), Key="index.html")


def client_probe(resolver: Resolver) -> str:
    return f"http:app@{resolver.name}"


def fargate_probes(stack: DeployedStack, resolvers: list[Resolver], *,
                   rate_hz: float = 5.0) -> list[HttpProbe | DnsProbe]:
    """Per resolver: a client resolving app.<zone> through it at every request, and the DNS answers."""
    name = stack.output("AppName")
    probes: list[HttpProbe | DnsProbe] = [
        HttpProbe(client_probe(r), f"http://{name}/", rate_hz=rate_hz, timeout_s=2.0, dns_server=(r.host, r.port))
        for r in resolvers]
    probes += [DnsProbe(f"dns:{r.name}", name, "A", server=(r.host, r.port), rate_hz=rate_hz) for r in resolvers]
    return probes


def _settled(samples: list[Sample], since: float, until: float, wanted: Callable[[Sample], bool]) -> float | None:
    """When the samples in [since, until] start being `wanted` for good (seconds after `since`)."""
    window = [s for s in samples if since <= s.sent_at <= until]
    last_unwanted = max((s.sent_at for s in window if not wanted(s)), default=None)
    settled = [s for s in window if last_unwanted is None or s.sent_at > last_unwanted]
    return round(settled[0].sent_at - since, 3) if settled else None


def is_fallback(sample: Sample) -> bool:
    return sample.status == 200 and sample.served_by == FALLBACK_ORIGIN


def is_service(sample: Sample) -> bool:
    return sample.status == 200 and sample.served_by not in (None, FALLBACK_ORIGIN)


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


def fallback_judge(resolvers: list[Resolver], primary: str, profile: str
                   ) -> Callable[[FailoverRun, FailoverResult, float], Judgement]:
    """Passed when the primary client got `Fallback.` within the budget and the service back within the
    failback budget; the message names every client's times."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        times = [client_times(run.timeline, client_probe(r), fault_at) for r in resolvers]
        summary = "; ".join(f"{t.probe}: fallback after {t.to_fallback_s} s, failback {t.failback_s} s" for t in times)
        main = next(t for t in times if t.probe == primary)
        failback_budget = budgets.budget_for(STACK, "failback", profile)
        if main.to_fallback_s is None:
            return Judgement("failed", f"{STACK}: {primary} never settled on the fallback page; {summary}")
        headline = Headline("time to the fallback page", main.to_fallback_s)
        if main.to_fallback_s > run.budget_s:
            return Judgement("failed", f"{STACK}: fallback after {main.to_fallback_s:.2f} s, over "
                             f"{run.budget_s:.1f} s; {summary}", headline)
        if main.failback_s is None or main.failback_s > failback_budget:
            return Judgement("failed", f"{STACK}: failback {main.failback_s} s, budget {failback_budget:.1f} s; "
                             f"{summary}", headline)
        return Judgement("passed", f"fallback page after {main.to_fallback_s:.2f} s (budget {run.budget_s:.1f} s), "
                         f"failback {main.failback_s:.2f} s (budget {failback_budget:.1f} s); {summary}", headline)

    return judge
