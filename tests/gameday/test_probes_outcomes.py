"""Outcomes as the user sees them: a steady state is the service itself answering (its own identity, the page
asked for), and every kit's probes say whose answer counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.clock import SystemClock
from gameday.errors import FaultError
from gameday.faults import FaultPlan, RevertAction, RollbackJournal, Target
from gameday.kits.eip_self_healing.scenarios import probes as eip_probes
from gameday.kits.origin_group.scenarios import HIT_PROBE, MISS_PROBE, PRIMARY_PROBE, cdn_probes
from gameday.kits.static_ip_haproxy.scenarios import CLIENT_PROBE, FLEETS, active_fleet_probe
from gameday.kits.static_ip_haproxy.scenarios import probes as proxy_probes
from gameday.kits.static_ip_haproxy.steady import Proxies
from gameday.probes import HttpProbe
from gameday.probes.scripted import ScriptedHttpServer
from gameday.reports.charts import OUTCOME_COLOURS
from gameday.scenario import FailoverRun, WatchPolicy, run_failover
from gameday.stacks import DeployedStack, StackSpec
from gameday.timeline import Outcome, Timeline
from tests.gameday.scenario_data import OfflineBackend


class _NoFault:
    """Injecting it raises: a steady state that holds shows as a FaultError naming it."""

    name = "none"
    target = "nothing"

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, (Target("none", "nothing"),), "nothing", RevertAction("none", {}, "nothing"))

    def inject(self) -> None:
        raise RuntimeError("injected: the steady state held")




@pytest.mark.parametrize(("mode", "identity", "seen"), [
    ("ok", "maintenance-page", "fallback"),  # a 2xx, but not from the service
    ("301", "i-0abc", "http_3xx"),  # the service's own redirect elsewhere is not the page either
])
def test_a_steady_state_refuses_answers_that_are_not_the_service(tmp_path: Path, mode: str, identity: str,
                                                                seen: str) -> None:
    clock = SystemClock()
    with ScriptedHttpServer(mode, identity=identity, location="http://127.0.0.1:9/elsewhere") as server:
        run = FailoverRun(
            backend=OfflineBackend(), stack_id="s", scenario="steady", fault=_NoFault(),
            probes=[HttpProbe("http", server.url, rate_hz=20, timeout_s=0.3, expect_identity="i-")],
            primary_probe="http", budget_s=5, prediction=None, journal=RollbackJournal(tmp_path / "j.jsonl"),
            timeline=Timeline.begin("t", clock), clock=clock,
            policy=WatchPolicy(steady_consecutive=5, steady_timeout_s=1.5, tail_s=0))
        result = run_failover(run)
    assert result.verdict == "failed" and result.fault_at is None
    assert result.message.startswith("steady state never reached") and seen in result.message, result.message


def test_the_same_probe_is_steady_on_the_service_itself(tmp_path: Path) -> None:
    """The control: the refusal above is the identity's, not the harness's."""
    clock = SystemClock()
    with ScriptedHttpServer("ok", identity="i-0abc") as server:
        run = FailoverRun(
            backend=OfflineBackend(), stack_id="s", scenario="steady", fault=_NoFault(),
            probes=[HttpProbe("http", server.url, rate_hz=20, timeout_s=0.3, expect_identity="i-")],
            primary_probe="http", budget_s=5, prediction=None, journal=RollbackJournal(tmp_path / "j.jsonl"),
            timeline=Timeline.begin("t", clock), clock=clock,
            policy=WatchPolicy(steady_consecutive=5, steady_timeout_s=5, tail_s=0))
        with pytest.raises(FaultError, match="injected: the steady state held"):
            run_failover(run)


def test_the_report_legend_names_every_http_outcome() -> None:
    http = {Outcome.OK, Outcome.HTTP_3XX, Outcome.HTTP_4XX, Outcome.HTTP_5XX, Outcome.FALLBACK}
    assert {o.value for o in http} <= set(OUTCOME_COLOURS)
    assert len({OUTCOME_COLOURS[o.value] for o in http}) == len(http)


def _stack(**outputs: str) -> DeployedStack:
    return DeployedStack(StackSpec("x", {}, Path("template.yaml")), "gd-x", "arn", outputs, {})


def test_every_kit_probe_names_whose_answer_counts() -> None:
    """eip: the instance; origin-group: one of the group's buckets, and the primary for the steady state;
    static-ip-haproxy: the blue fleet, both fleets only while the switch is the fault, blue for its steady state."""
    eip = [p for p in eip_probes(_stack(ServiceUrl="http://127.0.0.5/", AppName="app.x.test"), [])
           if isinstance(p, HttpProbe)]
    assert eip and all(p.expected_identities == ("i-",) for p in eip)

    cdn = {p.name: p for p in cdn_probes("127.0.0.9", timeout_s=5)}
    assert cdn[MISS_PROBE].expected_identities == cdn[HIT_PROBE].expected_identities == ("primary/", "replica/")
    assert cdn[PRIMARY_PROBE].expected_identities == ("primary/",)
    assert {p.identity_header for p in cdn.values()} == {"x-amz-meta-served-by"}

    proxies = Proxies(_stack(ServiceName="www.x.test"), {"a1": "127.0.0.11", "b1": "127.0.0.12"}, ("127.0.0.3", 53))
    steady = [p for p in proxy_probes(proxies, OfflineBackend(), keepalive=("b1",)) if isinstance(p, HttpProbe)]
    assert {p.name for p in steady} == {CLIENT_PROBE, "https-keepalive:b1"}
    assert all(p.expected_identities == ("blue/",) for p in steady)
    switching = [p for p in proxy_probes(proxies, OfflineBackend(), per_node=True, serving=FLEETS)
                 if isinstance(p, HttpProbe)]
    assert len(switching) == 3 and all(p.expected_identities == FLEETS for p in switching)
    assert active_fleet_probe(proxies).expected_identities == ("blue/",)
