"""static-ip-haproxy's scenarios: four static addresses, each a HAProxy node (ASG of one) behind a Route 53
health check; weighted answers name only the healthy nodes.

Each scenario first waits until all four nodes are healthy and in DNS, then injects one fault: a proxy
terminated, an AZ blocked with security groups and with a network ACL (as FIS does), the backend name
switched blue -> green, the backend lost. The client probe resolves at the authoritative server on every
connection, so its outage ends when the dead address leaves DNS. Run under locust with `--load 10x` or
`--load soak` (opt-in; the default game day runs without).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.backends.base import Backend
from gameday.faults import BackendLoss, BlockAzNacl, BlockAzSecurityGroups, BlueGreenSwitch, Fault, TerminateInstance
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.kits.play import record_not_run
from gameday.kits.static_ip_haproxy import model
from gameday.kits.static_ip_haproxy.judges import (
    CLIENT_PROBE,
    Judge,
    KeepAlive,
    dns_leave_judge,
    loss_judge,
    switch_judge,
)
from gameday.kits.static_ip_haproxy.model import STACK
from gameday.kits.static_ip_haproxy.steady import Proxies, authoritative_server, not_steady, proxies, slot_ips
from gameday.model import Prediction
from gameday.probes import DnsProbe, HealthProbe, HttpProbe
from gameday.scenario import ScenarioResult, Verdict, WatchPolicy
from gameday.session import GameDay
from gameday.stopconditions import StopSpec

RATE_HZ = 10.0
# Long enough that a loaded 2-core host does not turn a slow TLS handshake into an error; a black-holed
# address still fails (after this long), and the DNS-leave time is measured from DNS answers, not from it.
CLIENT_TIMEOUT_S = 2.0
UNPREDICTED_S = 30.0  # the watch's worst case when a scenario has no predictor
NO_AUTHORITATIVE = "the backend names no authoritative DNS server to probe (the client probe resolves there)"
# Who served: each backend names itself "<fleet>/<instance id>" (X-Served-By, through the TLS passthrough).
# The scenarios start from the blue fleet (the switch goes to green, the loss stops blue), so the steady state
# is blue serving; green serving is good only once the switch to it is the fault.
ACTIVE_FLEET = "blue/"
FLEETS = (ACTIVE_FLEET, "green/")
ACTIVE_PROBE = "https:www-blue"


def probes(stack: Proxies, backend: Backend, *, keepalive: tuple[str, ...] = (), per_node: bool = False,
           serving: tuple[str, ...] = (ACTIVE_FLEET,)) -> list[HttpProbe | DnsProbe | HealthProbe]:
    """The client, DNS and health probes; HTTP answers are good only from the fleets in `serving`."""
    def https(name: str, host: str, rate_hz: float, **more: Any) -> HttpProbe:
        return HttpProbe(name, f"https://{host}/", rate_hz=rate_hz, timeout_s=CLIENT_TIMEOUT_S, verify_tls=False,
                         expect_identity=serving, **more)

    found: list[HttpProbe | DnsProbe | HealthProbe] = [
        https(CLIENT_PROBE, stack.name, RATE_HZ, dns_server=stack.authoritative),
        DnsProbe("dns:authoritative", stack.name, "A", server=stack.authoritative, rate_hz=RATE_HZ),
    ]
    found += [DnsProbe(f"dns:{r.name}", stack.name, "A", server=(r.host, r.port), rate_hz=5.0)
              for r in backend.resolvers() if r.kind == "caching"]
    found += [HealthProbe(f"health:{slot}", f"http://{ip}:9000/health", rate_hz=4.0, timeout_s=CLIENT_TIMEOUT_S)
              for slot, ip in stack.ips.items()]
    found += [https(f"https-keepalive:{slot}", stack.ips[slot], 10.0, keepalive=True) for slot in keepalive]
    if per_node:  # which fleet each HAProxy serves from
        found += [https(f"https:{slot}", ip, 5.0) for slot, ip in stack.ips.items()]
    return found


def active_fleet_probe(stack: Proxies) -> HttpProbe:
    """The client's view again, good only from the fleet the scenario starts from: with both fleets good for
    the client, this keeps a stack already serving green (the switch has nothing to do) from looking steady."""
    return HttpProbe(ACTIVE_PROBE, f"https://{stack.name}/", rate_hz=RATE_HZ, timeout_s=CLIENT_TIMEOUT_S,
                     verify_tls=False, dns_server=stack.authoritative, expect_identity=ACTIVE_FLEET)


# The faults, built against the deployment exactly as the runs use them.

def terminate_first_proxy(backend: Backend, deployment: Deployment) -> Fault:
    return TerminateInstance(backend, deployment.output("ProxyGroups").split(",")[0])


def _second_az(backend: Backend, deployment: Deployment) -> tuple[str, str]:
    """The stack's VPC and its second AZ (proxies b1, b2; the idle green fleet)."""
    subnet = deployment.output("Subnets").split(",")[1]
    found = backend.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"]
    return deployment.output("VpcId"), str(found[0]["AvailabilityZone"])


def block_second_az_sg(backend: Backend, deployment: Deployment) -> Fault:
    return BlockAzSecurityGroups(backend, *_second_az(backend, deployment))


def block_second_az_nacl(backend: Backend, deployment: Deployment) -> Fault:
    return BlockAzNacl(backend, *_second_az(backend, deployment))


def switch_to_green(backend: Backend, deployment: Deployment) -> Fault:
    name = deployment.output("BackendName")  # backend.<zone>; the fleets are blue.backend.<zone>, green.backend.<zone>
    return BlueGreenSwitch(backend, deployment.output("ZoneId"), name, f"green.{name}")


def lose_backend(backend: Backend, deployment: Deployment) -> Fault:
    return BackendLoss(backend, deployment.output("BlueInstance"))


# The runs.

def _play(game: GameDay, deployment: Deployment, spec: ScenarioSpec, *, judge: Judge, watch_s: float,
          keepalive: tuple[str, ...] = (), switching: bool = False) -> list[ScenarioResult]:
    """Steady state first (its absence is a failed result, with why), then the fault, watched for a fixed time.
    `switching`: the fault moves the service to the other fleet (both serve; per-node probes show which)."""
    authoritative = authoritative_server(game.backend)
    if authoritative is None:
        return [record_not_run(game, spec, NO_AUTHORITATIVE)]
    stack = proxies(deployment, authoritative)
    reason = not_steady(game, stack)
    if reason is not None:
        return [record_not_run(game, spec, f"steady state not reached: {reason}", Verdict.FAILED)]
    # locust verifies TLS; HAProxy's own endpoint takes the load
    load = game.load_for(f"http://{stack.ips['a1']}:9000/health", spec.name)
    found = probes(stack, game.backend, keepalive=keepalive, per_node=switching,
                   serving=FLEETS if switching else (ACTIVE_FLEET,))
    ready = [active_fleet_probe(stack)] if switching else []
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=spec.faults[0].build(game.backend, deployment),
        probes=[*found, *ready], primary_probe=CLIENT_PROBE, ready_probes=[p.name for p in ready],
        budget_key=spec.budget_key, prediction=_predict(game, deployment, spec), stop=spec.stop,
        policy=WatchPolicy(fixed_watch_s=watch_s, tail_s=CLIENT_TIMEOUT_S + 1.0), judge=judge, load=load)]


def _predict(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> Prediction | None:
    return spec.predict(game.profile, deployment.main) if spec.predict else None


def _worst_s(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> float:
    prediction = _predict(game, deployment, spec)
    return prediction.high_s if prediction else UNPREDICTED_S


def _dns_leave_watch_s(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> float:
    """Watch a fixed time (1.5 x the predicted worst case, plus margin): with a client timeout of 2 s,
    samples still in flight to a dead address must not let the watch call the service stable early."""
    return 1.5 * _worst_s(game, deployment, spec) + CLIENT_TIMEOUT_S + 2.0


def _dead(deployment: Deployment, slots: Sequence[str]) -> list[str]:
    ips = slot_ips(deployment)
    return [ips[slot] for slot in slots]


def run_terminate_proxy(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _play(game, deployment, spec, judge=dns_leave_judge(_dead(deployment, ["a1"])),
                 watch_s=_dns_leave_watch_s(game, deployment, spec))


def _run_block_az(game: GameDay, deployment: Deployment, spec: ScenarioSpec, *,
                  mechanism: str, survives: bool) -> list[ScenarioResult]:
    """The second AZ blocked: b1 and b2 leave DNS; a keep-alive client on b1 shows what the mechanism
    does to established connections."""
    b1, b2 = _dead(deployment, ["b1", "b2"])
    keepalive = KeepAlive("b1", b1, mechanism, survives)
    return _play(game, deployment, spec, judge=dns_leave_judge([b1, b2], keepalive),
                 watch_s=_dns_leave_watch_s(game, deployment, spec), keepalive=("b1",))


def run_block_az_sg(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _run_block_az(game, deployment, spec, mechanism="security-group", survives=True)


def run_block_az_nacl(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _run_block_az(game, deployment, spec, mechanism="network-acl", survives=False)


def run_blue_green_switch(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _play(game, deployment, spec, judge=switch_judge, watch_s=1.5 * _worst_s(game, deployment, spec) + 3.0,
                 switching=True)


def run_backend_loss(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _play(game, deployment, spec, judge=loss_judge, watch_s=_worst_s(game, deployment, spec) + 4.0)


REVERT_ASG = "the group's min/max/desired back as they were (the group replaces the instance, same EIP)"
STOP = StopSpec(probe=CLIENT_PROBE, floor=0.5)

SCENARIOS = (
    ScenarioSpec(
        f"{STACK}/terminate-proxy", STACK,
        "terminate one of the four HAProxy nodes; its health check fails and DNS stops handing out its address",
        (FaultSpec("terminate-instance", "the instance of the first proxy group (output ProxyGroups)",
                   REVERT_ASG, terminate_first_proxy),),
        run_terminate_proxy, STOP, predict=model.terminate_proxy),
    ScenarioSpec(
        f"{STACK}/block-az-sg", STACK,
        "block the second AZ with security groups (stateful: established connections live on)",
        (FaultSpec("block-az-security-groups", "every instance in the second AZ of the stack's VPC",
                   "each interface's security groups back, the quarantine group deleted", block_second_az_sg),),
        run_block_az_sg, STOP, predict=model.block_az_security_groups),
    ScenarioSpec(
        f"{STACK}/block-az-nacl", STACK,
        "block the second AZ with a network ACL as AWS FIS does (stateless: established connections break)",
        (FaultSpec("block-az-nacl", "the subnets of the second AZ of the stack's VPC",
                   "the subnets back on their network ACLs, the clones deleted", block_second_az_nacl,
                   {"scope": "all"}),),
        run_block_az_nacl, STOP, predict=model.block_az_nacl),
    ScenarioSpec(
        f"{STACK}/blue-green-switch", STACK,
        "point the backend name at the green fleet; every HAProxy must follow within its resolver timers",
        (FaultSpec("blue-green-switch", "the CNAME backend.<zone> (output BackendName)",
                   "the CNAME back to the blue fleet", switch_to_green),),
        run_blue_green_switch, predict=model.blue_green_switch),
    # Last: on localcloud the stopped backend's server (started by its user data, which runs at first boot
    # only) does not come back when the revert starts the instance again. SCENARIOS' order is the run's.
    ScenarioSpec(
        f"{STACK}/backend-loss", STACK,
        "stop the active backend: health endpoints answer 503 and the nodes leave DNS (then fail-open)",
        (FaultSpec("backend-loss", "the blue backend instance (output BlueInstance)",
                   "the instance started again", lose_backend),),
        run_backend_loss, predict=model.backend_loss),
)
