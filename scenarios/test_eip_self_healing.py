"""eip-self-healing: the one instance dies; the group replaces it and its user data re-claims the EIP.

Clients keep using the same address, so there is no DNS term: the DNS probes show the answer
never changes while the HTTP probes show the outage.
"""

from __future__ import annotations

import pytest

from fixtures.scenarios import Failover
from fixtures.stacks import DeployStack
from gameday.faults.terminate_instance import TerminateInstance
from gameday.load import LoadController
from gameday.probes import DnsProbe, HttpProbe

pytestmark = [pytest.mark.scenario, pytest.mark.stack("eip-self-healing")]

STACK = "eip-self-healing"
RATE_HZ = 20.0


def eip_probes(stack, resolvers) -> list:  # type: ignore[no-untyped-def]
    url = stack.output("ServiceUrl")
    probes: list[HttpProbe | DnsProbe] = [
        HttpProbe("http:eip", url, rate_hz=RATE_HZ, timeout_s=0.5),
        HttpProbe("http-keepalive:eip", url, rate_hz=RATE_HZ, timeout_s=0.5, keepalive=True),
    ]
    probes += [DnsProbe(f"dns:{r.name}", stack.output("AppName"), "A", server=(r.host, r.port), rate_hz=5.0)
               for r in resolvers]
    return probes


@pytest.mark.fault("terminate-instance")
def test_terminate_instance(deploy_stack: DeployStack, failover: Failover, load: LoadController) -> None:
    stack = deploy_stack(STACK, ZoneName=f"eip-{failover.paths.run_id}.gameday.test")
    url = stack.output("ServiceUrl")
    result = failover.run(
        stack_id=STACK, scenario="terminate-instance", stack=stack,
        fault=TerminateInstance(failover.backend, stack.output("AutoScalingGroupName")),
        probes=eip_probes(stack, failover.backend.resolvers()), primary_probe="http:eip",
        load=lambda timeline: load.running(url, failover.paths.folder / "terminate-instance", timeline),
    )
    assert result.passed, result.message
