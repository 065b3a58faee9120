"""static-ip-haproxy, deploy by replacement (how the write-up's team shipped updates): a second copy of the proxy
stack is deployed, its instances take the four Elastic IPs over from the first (the user data's associate with
--allow-reassociation), then the first copy is deleted. Measured per address: when the new copy first served
there, the longest gap without a good answer, and that every address still serves once the old copy is gone.

The addresses must outlive every copy, so this deployment keeps them in a stack of their own
(stacks/static-ip-haproxy/addresses.yaml) and passes them to each copy as ProxyAllocationIds/ProxyAddresses;
a copy that allocated them itself would release them when deleted."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gameday import stacks
from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.faults import Fault, FaultPlan, RevertAction, Target
from gameday.kits.blocks.template_kit import PartValues, overrides_for
from gameday.kits.kit import DeployContext, Deployment, FaultSpec, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.kits.static_ip_haproxy.deployments import own_context
from gameday.kits.static_ip_haproxy.judges import Judge
from gameday.kits.static_ip_haproxy.measure import record
from gameday.kits.static_ip_haproxy.model import STACK
from gameday.kits.static_ip_haproxy.steady import SLOTS, authoritative_server, not_steady, proxies, slot_ips
from gameday.probes import HealthProbe, HttpProbe, ProbeRunner
from gameday.scenario import (
    LOOPBACK_NETWORKS,
    FailoverRun,
    Headline,
    Judgement,
    ScenarioResult,
    Verdict,
    WatchPolicy,
    steady_timeout,
)
from gameday.session import GameDay
from gameday.stacks import DeployedStack, StackSpec
from gameday.timeline import Timeline

DEPLOYMENT = "replacement"
TEMPLATE = stacks.STACKS_DIR / STACK / "template.yaml"
ADDRESSES = stacks.STACKS_DIR / STACK / "addresses.yaml"
HANDOVER_WATCH_S = {"fast": 45.0, "realistic": 300.0}  # after the new copy is created: boot, user data, claim
AFTER_S = 5.0  # every address probed this long once the old copy is deleted
RATE_HZ = 5.0
CLIENT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ReplacementDeployment(Deployment):
    """The addresses' stack and the copies of the proxy stack still standing, oldest first (the scenario adds
    the new one and deletes the old; what stands at the end is deleted with the run's deployments)."""

    context: DeployContext = field(kw_only=True)
    parameters: PartValues = field(kw_only=True)
    standing: list[DeployedStack] = field(default_factory=list, kw_only=True)

    @property
    def addresses(self) -> DeployedStack:
        return self.part("addresses")


def copy_spec(deployment: ReplacementDeployment, ctx: DeployContext) -> StackSpec:
    """A copy of the proxy stack on the addresses' four EIPs, with the kit's parameters and `--param`s."""
    adopted = {"ProxyAllocationIds": deployment.addresses.output("AllocationIds"),
               "ProxyAddresses": deployment.addresses.output("Addresses")}
    return StackSpec(STACK, {**deployment.parameters(ctx, {}), **overrides_for(TEMPLATE, ctx.parameters), **adopted},
                     TEMPLATE, part="main")


@dataclass(frozen=True)
class Replacement:
    """The `replacement` deployment: deploy (addresses, then the first copy), delete, and know its own."""

    parameters: PartValues

    def deploy(self, ctx: DeployContext) -> ReplacementDeployment:
        if ctx.adopting:
            raise ConfigError(f"{STACK}/deploy-by-replacement deploys copies of its own; it cannot run against "
                              "an --existing-stack")
        first = own_context(ctx, "r1")
        addresses = stacks.deploy(ctx.backend, StackSpec(STACK, {}, ADDRESSES, part="addresses"), first.run_id,
                                  run_tag=first.run_tag)
        made = ReplacementDeployment(STACK, {"addresses": addresses}, context=ctx, parameters=self.parameters)
        try:
            old = stacks.deploy(ctx.backend, copy_spec(made, first), first.run_id, run_tag=first.run_tag)
        except BaseException:
            stacks.delete(ctx.backend, addresses)
            raise
        return replace(made, parts={"addresses": addresses, "main": old}, standing=[old])

    def delete(self, ctx: DeployContext, deployment: Deployment) -> None:
        """Every copy still standing (newest first), then the addresses."""
        assert isinstance(deployment, ReplacementDeployment)
        try:
            for copy in reversed(deployment.standing):
                stacks.delete(ctx.backend, copy)
        finally:
            stacks.delete(ctx.backend, deployment.addresses)

    def owns(self, deployment: Deployment) -> bool:
        return isinstance(deployment, ReplacementDeployment)


@dataclass
class DeployReplacement:
    """The "fault": deploy the second copy. Nothing is put back afterwards: the new copy is the service now (the
    scenario deletes the old one, gameday the new one with the run's deployments), so the revert is `none`."""

    backend: Backend
    deployment: ReplacementDeployment
    name: str = "deploy-replacement"
    new: DeployedStack | None = None

    @property
    def target(self) -> str:
        return f"the four Elastic IPs of {self.deployment.addresses.name}"

    def plan(self) -> FaultPlan:
        ips = slot_ips(self.deployment)
        allocations = self.deployment.addresses.output("AllocationIds").split(",")
        return FaultPlan(self.name, tuple(Target("ec2:elastic-ip", ip, aliases=(allocation,), note=slot)
                                          for (slot, ip), allocation in zip(ips.items(), allocations, strict=True)),
                         f"deploy a second copy of the proxy stack on the same allocation ids; its instances take "
                         f"the addresses over from {self.deployment.main.name}",
                         RevertAction("none", {}, "none in place: the new copy serves the addresses; the old copy "
                                                  "is deleted after the watch, the new one with the run's stacks"))

    def inject(self) -> None:
        ctx = own_context(self.deployment.context, "r2")
        self.new = stacks.deploy(self.backend, copy_spec(self.deployment, ctx), ctx.run_id, run_tag=ctx.run_tag)
        self.deployment.standing.append(self.new)

    @property
    def new_identity(self) -> str | None:
        """Who serves behind the new copy: its blue backend (X-Served-By blue/<instance>)."""
        return f"blue/{self.new.output('BlueInstance')}" if self.new is not None else None


def take_over(backend: Backend, deployment: Deployment) -> Fault:
    if not isinstance(deployment, ReplacementDeployment):
        raise ConfigError(f"deploy-by-replacement needs the {DEPLOYMENT!r} deployment, got {deployment.names}")
    return DeployReplacement(backend, deployment)


# Readings: pure functions of a timeline.

@dataclass(frozen=True)
class Handover:
    """What clients of one address saw: when the new copy first served there, the longest gap without a good
    answer (first failed request to the next good one), and the failed requests."""

    slot: str
    taken_over_s: float | None
    gap_s: float
    recovered: bool  # the last answer was good
    errors: int
    samples: int

    def describe(self) -> str:
        taken = f"new copy from {self.taken_over_s:.2f} s" if self.taken_over_s is not None else "never the new copy"
        return f"{self.slot}: {taken}, gap {self.gap_s:.2f} s, {self.errors} of {self.samples} failed"


def handover(timeline: Timeline, probe: str, slot: str, new_identity: str | None, since: float) -> Handover:
    samples = sorted((s for s in timeline.samples_of(probe) if s.sent_at >= since), key=lambda s: s.sent_at)
    taken = next((s.sent_at - since for s in samples if s.good and new_identity
                  and (s.served_by or "").startswith(new_identity)), None)
    gap, bad_since = 0.0, None
    for sample in samples:
        if not sample.good and bad_since is None:
            bad_since = sample.sent_at
        elif sample.good and bad_since is not None:
            gap, bad_since = max(gap, sample.sent_at - bad_since), None
    if bad_since is not None and samples:
        gap = max(gap, samples[-1].sent_at - bad_since)
    return Handover(slot, taken, gap, bool(samples) and samples[-1].good, sum(not s.good for s in samples),
                    len(samples))


def handovers(timeline: Timeline, prefix: str, new_identity: str | None, since: float) -> list[Handover]:
    return [handover(timeline, f"{prefix}:{slot}", slot, new_identity, since) for slot in SLOTS]


def handover_judge(fault: DeployReplacement) -> Judge:
    """Every address served by the new copy by the end of the watch, the longest gap within the budget."""
    def judge(run: FailoverRun, failover: object, fault_at: float) -> Judgement:
        seen = handovers(run.timeline, "https", fault.new_identity, fault_at)
        record(run.timeline, "handover", ",".join(SLOTS), per_address=[h.__dict__ for h in seen],
               new_copy=fault.new.name if fault.new else None)
        text = "; ".join(h.describe() for h in seen)
        worst = max(h.gap_s for h in seen)
        headline = Headline("longest gap at one address", worst)
        stuck = [h.slot for h in seen if h.taken_over_s is None or not h.recovered]
        if stuck:
            return Judgement(Verdict.FAILED, f"{', '.join(stuck)} not served by the new copy at the end of the "
                                             f"watch; {text}", headline)
        verdict = Verdict.PASSED if worst <= run.budget_s else Verdict.FAILED
        return Judgement(verdict, f"every address handed over to the new copy, the longest gap {worst:.2f} s "
                                  f"(budget {run.budget_s:.1f} s); {text}", headline)
    return judge


def address_probes(ips: Mapping[str, str], prefix: str) -> list[HttpProbe | HealthProbe]:
    """A new connection per request to every address, as a client that allow-listed them connects, and the
    health endpoint Route 53 checks."""
    return [*(HttpProbe(f"{prefix}:{slot}", f"https://{ip}/", rate_hz=RATE_HZ, timeout_s=CLIENT_TIMEOUT_S,
                        verify_tls=False, expect_identity="blue/") for slot, ip in ips.items()),
            *(HealthProbe(f"{prefix}-health:{slot}", f"http://{ip}:9000/health", rate_hz=RATE_HZ / 2,
                          timeout_s=CLIENT_TIMEOUT_S) for slot, ip in ips.items())]


def _delete_old(game: GameDay, deployment: ReplacementDeployment, fault: DeployReplacement,
                timeline: Timeline) -> tuple[float, list[Handover]]:
    """Delete the old copy, then probe every address for AFTER_S: (seconds the deletion took, what they saw)."""
    old = deployment.standing[0]
    started = time.monotonic()
    stacks.delete(game.backend, old)
    deployment.standing.remove(old)
    took = time.monotonic() - started
    since = game.clock.now()
    allowed = LOOPBACK_NETWORKS if game.backend.name == "localcloud" else None
    with ProbeRunner(timeline, address_probes(slot_ips(deployment), "after"), clock=game.clock,
                     allowed_networks=allowed):
        game.clock.sleep(AFTER_S)
    return took, handovers(timeline, "after", fault.new_identity, since)


def _after(result: ScenarioResult, old: str, took: float, after: Sequence[Handover]) -> ScenarioResult:
    """The handover's result with what the addresses did once the old copy was gone."""
    failed = [h for h in after if h.errors or h.taken_over_s is None]
    record(result.timeline, "after_old_copy_deleted", old, delete_s=took, per_address=[h.__dict__ for h in after])
    told = (f"old copy {old} deleted in {took:.1f} s; then "
            + (f"{', '.join(h.describe() for h in failed)}" if failed
               else f"every address served by the new copy ({sum(h.samples for h in after)} requests, none failed)"))
    named = ("the service name lived in the old copy's zone and went with it: clients that resolve it need a "
             "zone outside both copies, as the addresses are")
    if failed and result.verdict is Verdict.PASSED:
        return replace(result, verdict=Verdict.FAILED, message=f"{result.message}; but {told}; {named}")
    return replace(result, message=f"{result.message}; {told}; {named}")


def run_deploy_by_replacement(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    authoritative = authoritative_server(game.backend)
    if authoritative is None:
        return [record_not_run(game, spec, "the backend names no authoritative DNS server to probe")]
    fault = take_over(game.backend, deployment)
    assert isinstance(fault, DeployReplacement)
    reason = not_steady(game, proxies(deployment, authoritative))
    if reason is not None:
        return [record_not_run(game, spec, f"steady state not reached: {reason}", Verdict.FAILED)]
    probes = address_probes(slot_ips(deployment), "https")
    policy = WatchPolicy(fixed_watch_s=HANDOVER_WATCH_S.get(game.profile.name, HANDOVER_WATCH_S["fast"]),
                         tail_s=1.0, steady_timeout_s=steady_timeout(game.profile))
    result = game.run(stack_id=STACK, scenario=spec.name, fault=fault, probes=probes, primary_probe="https:a1",
                      steady_probes=[p.name for p in probes[1:]], budget_key=spec.budget_key, policy=policy,
                      judge=handover_judge(fault), record=False)
    if fault.new is None:  # the new copy never deployed: the old one stays, deleted with the deployment
        return [result]
    old = fault.deployment.standing[0].name
    took, after = _delete_old(game, fault.deployment, fault, result.timeline)
    return [_after(result, old, took, after)]


REPLACEMENT_SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/deploy-by-replacement", STACK,
        "deploy a second copy of the proxy stack on the same four Elastic IPs; its instances take them over, then "
        "the old copy is deleted: the gap per address, and every address serving afterwards",
        (FaultSpec("deploy-replacement", "the four Elastic IPs (stack addresses.yaml, outputs AllocationIds)",
                   "none in place: the new copy serves; the old copy is deleted after the watch", take_over),),
        run_deploy_by_replacement, extended=True, deployment=DEPLOYMENT, budget="deploy-by-replacement"),
)
