"""One shared run with every variant broken at the same moment, then one judged result per variant
(`<scenario>-<variant>`): the comparison every spot-vpc-origin scenario makes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gameday.analysis import FailoverResult
from gameday.backends.base import Backend
from gameday.errors import DeployError
from gameday.faults import CompositeFault, Fault
from gameday.kits.kit import Deployment, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.kits.spot_vpc_origin.deploy import STACK, SpotDeployment, VariantStacks, current, probes
from gameday.kits.spot_vpc_origin.readings import analyze_variant, variant_timeline
from gameday.model import Prediction
from gameday.scenario import Headline, ScenarioResult, Verdict, WatchPolicy
from gameday.session import GameDay
from gameday.timeline import Event, Timeline

MODEL_TOLERANCE = 0.20  # fast profile: the measurement must agree with the profile's own numbers
STABLE_WINDOW_S = 2.0
RANGE_SLACK_S = 0.5  # a range's ends may be 0 or a TTL exactly; the probes sample every 200 ms

Judged = tuple[Verdict, str]


def every(variants: Sequence[VariantStacks]) -> list[VariantStacks]:
    return list(variants)


def all_variants(deployment: Deployment) -> list[VariantStacks]:
    """The variants of the deployment and of the further deployments the scenario asked for (`also`)."""
    found: list[VariantStacks] = []
    for made in (deployment, *deployment.others.values()):
        if not isinstance(made, SpotDeployment):
            raise DeployError(f"{made.names}: not a {STACK} deployment", stack=STACK)
        found += made.variants
    return found


@dataclass(frozen=True)
class VariantFault:
    """The same fault for each chosen variant, one part per variant, injected back to back: the one builder
    both the scenario's FaultSpec (plan, export-fis) and its run use."""

    name: str
    part: Callable[[Backend, VariantStacks], Fault]
    choose: Callable[[Sequence[VariantStacks]], list[VariantStacks]] = field(default=every)

    def variants(self, deployment: Deployment) -> list[VariantStacks]:
        return self.choose(all_variants(deployment))

    def build(self, backend: Backend, deployment: Deployment) -> CompositeFault:
        return CompositeFault([self.part(backend, v) for v in self.variants(deployment)], name=self.name)


def client_timeout(game: GameDay) -> float:
    # CloudFront tries the origin attempts x connection timeout before the maintenance page.
    return 3 * max(1.0, game.profile.delay("cloudfront.connection_timeout").mean) + 2.0


@dataclass(frozen=True)
class Case:
    """One variant's share of a run that broke every variant at once."""

    game: GameDay
    run: ScenarioResult
    variant: VariantStacks
    part: Fault  # the fault's part that broke this variant
    fault_at: float
    scenario: str  # this variant's scenario name
    comparison: str  # the fault's name, shared by every variant
    prediction: Prediction | None
    budget: float

    def view(self, *extra: Event) -> tuple[Timeline, FailoverResult]:
        """This variant's own timeline out of the shared run, and its analysis."""
        view = variant_timeline(self.run.timeline, self.variant, self.fault_at, self.part.target)
        view.add_events(extra)
        return view, analyze_variant(view, self.variant, self.fault_at, STABLE_WINDOW_S)

    def outside_range(self, measured: float) -> str | None:
        """Why `measured` disagrees with the prediction's range under the fast profile (None: it agrees)."""
        if self.prediction is None or self.game.profile.name != "fast":
            return None
        low = self.prediction.low_s * (1 - MODEL_TOLERANCE) - RANGE_SLACK_S
        high = self.prediction.high_s * (1 + MODEL_TOLERANCE) + RANGE_SLACK_S
        if low <= measured <= high:
            return None
        return (f"the model says {self.prediction.low_s:.2f}-{self.prediction.high_s:.2f} s "
                f"(+-{MODEL_TOLERANCE:.0%}): the measurement or localcloud is off")

    def result(self, view: Timeline, analysed: FailoverResult, judged: Judged, headline: Headline | None,
               details: dict[str, Any]) -> ScenarioResult:
        view.add_event(Event(self.fault_at, "gameday.variant", "gameday", self.variant.variant, details))
        verdict, message = judged
        return ScenarioResult(STACK, self.scenario, self.comparison, self.part.target, self.run.backend,
                              self.run.profile, self.budget, self.fault_at, analysed, self.prediction, verdict,
                              message, view, headline, details={"comparison": self.comparison, **details})


VariantJudge = Callable[[Case], ScenarioResult]
FixedWatch = Callable[[GameDay, Sequence[VariantStacks]], float]


def compare(game: GameDay, deployment: Deployment, spec: ScenarioSpec, *, breaks: VariantFault,
            judge: VariantJudge, fixed_watch: FixedWatch | None = None) -> list[ScenarioResult]:
    """One shared run with every chosen variant broken at once (after the spec's earlier faults, a condition
    they all share), then one judged result per variant."""
    try:  # an earlier scenario replaced the instances: each variant as it serves now
        variants = [current(game.backend, v) for v in breaks.variants(deployment)]
    except DeployError as exc:
        return [record_not_run(game, spec, f"no steady state before the fault: {exc}", Verdict.FAILED)]
    setup = [p for f in spec.faults[:-1] for p in _parts(f.build(game.backend, deployment))]
    fault = CompositeFault([*setup, *breaks.build(game.backend, deployment).parts], name=spec.budget_key)
    predictions = {v.variant: spec.predict(game.profile, v.origin) if spec.predict else None for v in variants}
    worst = max((p.high_s for p in predictions.values() if p is not None), default=60.0)
    every_probe = [p for v in variants for p in probes(v, game.backend, timeout_s=client_timeout(game))]
    run = game.run(
        stack_id=STACK, scenario=spec.name, fault=fault, probes=every_probe, primary_probe=variants[0].cdn_probe,
        steady_probes=[v.cdn_probe for v in variants[1:]], budget_key=spec.budget_key,
        prediction=predictions[variants[0].variant], stop=spec.stop, record=False,
        policy=WatchPolicy(steady_consecutive=10, watch_timeout_s=1.3 * worst + 10.0, tail_s=1.0,
                           stable_window_s=STABLE_WINDOW_S,
                           fixed_watch_s=fixed_watch(game, variants) if fixed_watch else None))
    if run.fault_at is None:  # no steady state, or the fault failed: every variant shares that verdict
        return [run]
    results = []
    for index, variant in enumerate(variants, start=len(setup)):
        fault_at = fault.injected_at[index] if index < len(fault.injected_at) else run.fault_at
        name = f"{spec.name}-{variant.variant}"
        results.append(judge(Case(game, run, variant, fault.parts[index], fault_at, name, fault.name,
                                  predictions[variant.variant], game.budget(STACK, fault.name, name))))
    return results


def _parts(fault: Fault) -> Sequence[Fault]:
    return fault.parts if isinstance(fault, CompositeFault) else [fault]


def seconds_or_never(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"
