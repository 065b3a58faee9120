"""eip-self-healing's scenarios: the one instance dies; the group replaces it and its user data re-claims the
Elastic IP. Clients keep using the same address, so there is no DNS term: the DNS probes show the answer
never changes while the HTTP probes show the outage."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.backends.base import Backend, Resolver, public_resolvers
from gameday.faults import Fault, TerminateInstance
from gameday.kits.eip_self_healing import model
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import ScenarioResult
from gameday.session import GameDay
from gameday.stacks import DeployedStack
from gameday.stopconditions import StopSpec

STACK = "eip-self-healing"
RATE_HZ = 20.0
PRIMARY = "http:eip"
# Who served: the web instance names itself (X-Served-By: its instance id). A 2xx from anything else at the
# address (another instance's page, a parked page) is not the service, before the fault or after.
INSTANCE_IDENTITY = "i-"


def probes(stack: DeployedStack, resolvers: Sequence[Resolver]) -> list[HttpProbe | DnsProbe]:
    url = stack.output("ServiceUrl")
    found: list[HttpProbe | DnsProbe] = [
        HttpProbe(PRIMARY, url, rate_hz=RATE_HZ, timeout_s=0.5, expect_identity=INSTANCE_IDENTITY),
        HttpProbe("http-keepalive:eip", url, rate_hz=RATE_HZ, timeout_s=0.5, keepalive=True,
                  expect_identity=INSTANCE_IDENTITY),
    ]
    found += [DnsProbe(f"dns:{r.name}", stack.output("AppName"), "A", server=(r.host, r.port), rate_hz=5.0,
                       expect_answers=(stack.output("PublicIp"),))
              for r in resolvers]
    return found


def name_probes(found: Sequence[HttpProbe | DnsProbe]) -> list[str]:
    """The service's name must resolve to its address before the fault: clients use the name, not the IP."""
    return [p.name for p in found if isinstance(p, DnsProbe)]


def terminate_web_instance(backend: Backend, deployment: Deployment) -> Fault:
    return TerminateInstance(backend, deployment.output("AutoScalingGroupName"))


def run_terminate_instance(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    stack = deployment.main
    fault = spec.faults[0].build(game.backend, deployment)
    found = probes(stack, public_resolvers(game.backend.resolvers()))
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=fault, probes=found, ready_probes=name_probes(found),
        primary_probe=PRIMARY, prediction=spec.predict(game.profile, stack) if spec.predict else None,
        stop=spec.stop, load=game.load_for(stack.output("ServiceUrl"), spec.name))]


SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/terminate-instance", STACK,
        "terminate the one web instance; the group replaces it and its user data re-claims the Elastic IP",
        (FaultSpec("terminate-instance",
                   "the InService instance of the stack's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were (the group itself replaces the instance)",
                   terminate_web_instance),),
        run_terminate_instance, StopSpec(probe=PRIMARY, floor=0.5), predict=model.terminate_instance),
)
