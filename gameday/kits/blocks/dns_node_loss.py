"""A scenario made of the generic blocks: one node of a set behind health-checked DNS records dies; its
address must leave the answers within the budget, and come back once its Auto Scaling group replaced it
and the replacement claimed the same address (a second budget, `back_budget`).

The stack names its parts through outputs only: the service name, the groups and the addresses (comma
lists in the same order). The client probe resolves at the authoritative server on every connection,
so what it sees follows the answers; the verdict is read from the answers themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.analysis import FailoverResult
from gameday.kits.blocks.asg_replacement import groups_note, replacement_phases, terminate_fault
from gameday.kits.blocks.dns_answers import address_move, failed_share, judge_back, judge_leave
from gameday.kits.blocks.health_dns import HealthDns, authoritative_server, not_steady
from gameday.kits.blocks.stack_timing import caching_ttl_s, config_of, leave_phases, recover_phases
from gameday.kits.kit import Deployment, Predictor, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.model import Prediction
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import FailoverRun, Headline, Judgement, ScenarioResult, Verdict, WatchPolicy, steady_timeout
from gameday.session import GameDay
from gameday.stacks import DeployedStack
from gameday.stopconditions import StopSpec
from localcloud.profiles import Profile

CLIENT = "http:client"
AUTHORITATIVE = "dns:authoritative"
RATE_HZ = 10.0
CLIENT_TIMEOUT_S = 2.0  # a black-holed address fails after this long; the verdict is read from DNS


@dataclass(frozen=True)
class NodeLoss:
    """Which outputs name the service, the groups and the addresses; which node dies; the budget keys."""

    stack_id: str
    template: Path  # for plans and dry runs, before anything is deployed (a deployment reads its own)
    name_output: str = "ServiceName"
    groups_output: str = "NodeGroups"
    addresses_output: str = "NodeIps"
    node: int = 0
    back_budget: str = "replacement"  # the budget key of "address comes back"
    steady_timeout_s: float | None = None  # None: the time profile's bound (gameday.scenario.steady_timeout)
    # Who may serve the client a 2xx: prefixes of the identity header (X-Served-By) the nodes send, e.g.
    # "i-" for instances that name themselves by id. Any other 2xx is a `fallback`, in the steady state too.
    # None: the stack's nodes do not say who they are, and any 2xx counts as the service.
    expect_identity: str | tuple[str, ...] | None = None

    def leave_prediction(self, profile: Profile, stack: DeployedStack | None) -> Prediction:
        config = config_of(self.stack_id, stack, self.template)
        return Prediction(self.stack_id, "terminate-instance", profile.name, leave_phases(profile, config),
                          note=f"the client resolves at the authoritative server on every connection; a caching "
                               f"client adds up to TTL {caching_ttl_s(profile, config):g} s")

    def back_prediction(self, profile: Profile, stack: DeployedStack | None) -> Prediction:
        config = config_of(self.stack_id, stack, self.template)
        return Prediction(self.stack_id, "terminate-instance", profile.name,
                          replacement_phases(profile, config) + recover_phases(profile, config),
                          note=f"{groups_note(config)}; excludes the user-data run time (measured, not modelled)")

    def spec(self, name: str, summary: str, *, budgets: Path | None = None) -> ScenarioSpec:
        predictor: Predictor = self.leave_prediction
        return ScenarioSpec(f"{self.stack_id}/{name}", self.stack_id, summary,
                            (terminate_fault(self.groups_output, self.node, "node"),), self.run,
                            StopSpec(probe=CLIENT, floor=0.25), predict=predictor,
                            budget="terminate-instance", budgets=budgets)

    def run(self, game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
        server = authoritative_server(game.backend)
        if server is None:
            return [record_not_run(game, spec, f"{game.backend.name} names no authoritative DNS server to ask")]
        stack = deployment.main
        name = stack.output(self.name_output)
        why = not_steady(HealthDns(game.backend, stack, name, server), game.clock, game.profile,
                         self.steady_timeout_s or steady_timeout(game.profile))
        if why is not None:
            return [record_not_run(game, spec, f"steady state never reached: {why}", Verdict.FAILED)]
        dead = stack.output(self.addresses_output).split(",")[self.node]
        back = self.back_prediction(game.profile, stack)
        back_budget = game.budget(self.stack_id, self.back_budget, spec.name)
        watch = max(1.5 * back.high_s, back_budget) + CLIENT_TIMEOUT_S + 2.0
        return [game.run(
            stack_id=self.stack_id, scenario=spec.name, fault=spec.faults[0].build(game.backend, deployment),
            probes=self.probes(game, name, server), primary_probe=CLIENT, budget_key=spec.budget_key,
            prediction=spec.predict(game.profile, stack) if spec.predict else None, stop=spec.stop,
            policy=WatchPolicy(fixed_watch_s=watch, tail_s=CLIENT_TIMEOUT_S + 1.0),
            judge=leave_and_back_judge([dead], back_budget, back.mean_s))]

    def probes(self, game: GameDay, name: str, server: tuple[str, int]) -> list[HttpProbe | DnsProbe]:
        found: list[HttpProbe | DnsProbe] = [
            HttpProbe(CLIENT, f"http://{name}/", rate_hz=RATE_HZ, timeout_s=CLIENT_TIMEOUT_S, dns_server=server,
                      expect_identity=self.expect_identity),
            DnsProbe(AUTHORITATIVE, name, "A", server=server, rate_hz=RATE_HZ)]
        found += [DnsProbe(f"dns:{r.name}", name, "A", server=(r.host, r.port), rate_hz=5.0)
                  for r in game.backend.resolvers() if r.kind == "caching"]
        return found


def leave_and_back_judge(dead: Sequence[str], back_budget_s: float,
                         back_predicted_s: float) -> Callable[[FailoverRun, FailoverResult, float], Judgement]:
    """Passed: the dead address left the authoritative answers within the run's budget, and came back
    (and stayed) within `back_budget_s`. The headline is the leave time."""

    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        move = address_move(run.timeline, AUTHORITATIVE, dead, fault_at)
        leave, back = judge_leave(move, run.budget_s), judge_back(move, back_budget_s)
        failed, total = failed_share([s for s in run.timeline.samples_of(CLIENT) if s.sent_at >= fault_at])
        message = (f"{leave.message}; {back.message} (predicted {back_predicted_s:.1f} s); "
                   f"{failed} of {total} client requests failed meanwhile")
        headline = Headline("dead address out of DNS", leave.seconds) if leave.seconds is not None else None
        return Judgement(Verdict.PASSED if leave.passed and back.passed else Verdict.FAILED, message, headline)

    return judge
