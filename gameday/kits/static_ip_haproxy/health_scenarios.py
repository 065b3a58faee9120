"""static-ip-haproxy: HAProxy's process killed versus its instance terminated, side by side in one run.

At the same moment HAProxy is killed on the first proxy (its ports refuse; the instance runs on) and the second
proxy's instance is terminated. Route 53's health checks take both addresses out of DNS; only the terminated
one is replaced by its group (EC2 health check), so only it comes back. The killed proxy stays out of DNS for
good: the stack's groups see EC2 status only, and the write-up left better health checks as "something we shall
probably add". That lasting loss of a quarter of the fleet is a finding about the architecture, reported in
words; the revert has the group replace the killed proxy.
"""

from __future__ import annotations

from gameday.analysis import FailoverResult
from gameday.backends.base import Backend
from gameday.faults import CompositeFault, Fault, PortFault, TerminateInstance
from gameday.faults.port_fault import LOCAL_ONLY
from gameday.kits.blocks.dns_answers import AddressMove, address_move
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.static_ip_haproxy.judges import CLIENT_PROBE, DNS_PROBE, Judge
from gameday.kits.static_ip_haproxy.measure import errors_after, record
from gameday.kits.static_ip_haproxy.model import STACK, health_timing
from gameday.kits.static_ip_haproxy.scenarios import STOP, _play
from gameday.kits.static_ip_haproxy.steady import slot_ips
from gameday.model import PredictedPhase, Prediction, fixed, phase
from gameday.scenario import FailoverRun, Headline, Judgement, ScenarioResult, Verdict
from gameday.session import GameDay
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile

KILLED, TERMINATED = "a1", "a2"
PROXY_PORT = 443  # HAProxy's TLS passthrough; the same process serves the health endpoint on 9000
DEPLOYMENT = "load"  # the kit's spare copy: the core run's backend loss leaves the default one unhealthy
NOT_ADDED = ("the proxies' groups see EC2 status only, so a running instance whose HAProxy died is never "
             "replaced (the write-up: better health checks are \"something we shall probably add\")")


def kill_and_terminate(backend: Backend, deployment: Deployment) -> Fault:
    groups = deployment.output("ProxyGroups").split(",")
    return CompositeFault([PortFault(backend, groups[0], PROXY_PORT, "kill-server"),
                           TerminateInstance(backend, groups[1])], name="kill-server")


def kill_vs_terminate(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """Both leave DNS after F x I + status-to-DNS (a refused port and a dead instance's 503-less black hole are
    both failures; the worse, the black hole, is predicted); the terminated one is back after the group's
    replacement, the app's start and F x I of passing checks (B2, B8), also status-to-DNS."""
    timing = health_timing(profile, stack_config(STACK, stack))
    status = profile.delay("route53.status_to_dns")
    return Prediction(STACK, "kill-server", profile.name, (
        fixed("health_check", timing.detection_s(timing.black_hole_s),
              f"F={timing.failure_threshold} x (I={timing.interval_s:g} s + t_f, black hole)"),
        PredictedPhase("status_to_dns", status.mean, status.low, status.high, "route53.status_to_dns"),
    ), note="until both addresses are out of DNS; the killed one never comes back")


def back_watch_s(profile: Profile, stack: DeployedStack | None) -> float:
    """Long enough for the terminated proxy to be replaced and back in DNS (1.5 x the worst case, plus the
    user data's real run time): replacement (B8) + app + F x I passing checks (B2) + status-to-DNS."""
    timing = health_timing(profile, stack_config(STACK, stack))
    back = (sum(p.high_s for p in (phase(profile, "d", "asg.detect_not_running"),
                                   phase(profile, "a", "ec2.run_instances_api"),
                                   phase(profile, "p", "ec2.pending_to_running"),
                                   phase(profile, "b", "ec2.boot"),
                                   phase(profile, "r", "ec2.app_ready"),
                                   phase(profile, "s", "route53.status_to_dns")))
            + timing.failure_threshold * timing.interval_s)
    return 1.5 * back + 15.0


def _leave(move: AddressMove) -> str:
    return "never left DNS" if move.last_seen_s is None else f"left DNS after {move.last_seen_s:.2f} s"


def kill_vs_terminate_judge(killed: str, terminated: str, fault: CompositeFault) -> Judge:
    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        dead, gone = (address_move(run.timeline, DNS_PROBE, [a], fault_at) for a in (killed, terminated))
        record(run.timeline, "kill_vs_terminate", f"{killed},{terminated}",
               killed_left_s=dead.last_seen_s, killed_back_s=dead.back_s, terminated_left_s=gone.last_seen_s,
               terminated_back_s=gone.back_s)
        failed, total = errors_after(run.timeline, CLIENT_PROBE, fault_at)
        clients = f"{failed} of {total} client requests failed meanwhile"
        story = (f"HAProxy killed on {KILLED} ({killed}): {_leave(dead)}, "
                 f"{'back' if dead.back_s is not None else 'never back'}; instance terminated on {TERMINATED} "
                 f"({terminated}): {_leave(gone)}, "
                 f"{f'back after {gone.back_s:.2f} s (replaced)' if gone.back_s is not None else 'never back'}")
        if dead.last_seen_s is None or gone.last_seen_s is None:
            return Judgement(Verdict.FAILED, f"Route 53 did not take both out of DNS: {story}; {clients}")
        out = max(dead.last_seen_s, gone.last_seen_s)
        headline = Headline("both dead addresses out of DNS", out)
        if out > run.budget_s:
            return Judgement(Verdict.FAILED, f"{story} (budget {run.budget_s:.1f} s to leave DNS); {clients}",
                             headline)
        if gone.back_s is None:
            return Judgement(Verdict.FAILED, f"{story}: the terminated proxy's group should have replaced it; "
                                             f"{clients}", headline)
        if dead.back_s is not None:
            return Judgement(Verdict.PASSED, f"{story}: something replaced or restarted the killed HAProxy; "
                                             f"{clients}", headline)
        return Judgement(Verdict.FAILED, f"stays out of DNS for good: {story}: {NOT_ADDED}; both left DNS "
                                         f"within the {run.budget_s:.1f} s budget; {clients}", headline)

    return judge


def run_kill_vs_terminate(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    ips = slot_ips(deployment)
    fault = spec.faults[0].build(game.backend, deployment)
    assert isinstance(fault, CompositeFault)
    return _play(game, deployment, spec, judge=kill_vs_terminate_judge(ips[KILLED], ips[TERMINATED], fault),
                 watch_s=back_watch_s(game.profile, deployment.main))


HEALTH_SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/kill-vs-terminate", STACK,
        "kill HAProxy on one proxy and terminate another's instance: both leave DNS, only the terminated one "
        "is replaced",
        (FaultSpec("kill-server", f"HAProxy (port {PROXY_PORT}) on the first proxy group's instance, and the "
                                  "second proxy group's instance (output ProxyGroups)",
                   "the killed proxy replaced by its group; the second group's sizes as they were",
                   kill_and_terminate),),
        run_kill_vs_terminate, STOP, extended=True, deployment=DEPLOYMENT, predict=kill_vs_terminate,
        budget="kill-server", backends=("localcloud",), backend_note=LOCAL_ONLY),
)
