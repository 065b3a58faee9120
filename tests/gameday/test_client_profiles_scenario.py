"""Client profiles in a whole scenario: a service that moves to a new address behind its name, seen by every
profile gameday derives from the primary probe (real loopback sockets, a scripted DNS server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dns.message
import dns.rdatatype

from gameday.backends.base import Resolver
from gameday.clock import SystemClock
from gameday.faults import FaultPlan, RevertAction, RollbackJournal, Target
from gameday.probes import HttpProbe
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, ScriptedHttpServer
from gameday.reports.markdown import render_summary
from gameday.scenario import FailoverRun, WatchPolicy, run_failover
from gameday.timeline import Timeline
from tests.gameday.scenario_data import OfflineBackend
from tests.gameday.test_client_profiles import new_home


class _V4Only(ScriptedDnsServer):
    """The scripted answers for A; no AAAA record (NODATA)."""

    def reply(self, wire: bytes, *, over_tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        if query.question[0].rdtype == dns.rdatatype.AAAA:
            return dns.message.make_response(query).to_wire()
        return super().reply(wire, over_tcp=over_tcp)


class _Moves:
    """The old address answers 503 from the inject on; one second later the name points at the new one."""

    name = "move-service"

    def __init__(self, old: ScriptedHttpServer, dns_server: ScriptedDnsServer) -> None:
        self.old, self.dns_server = old, dns_server

    @property
    def target(self) -> str:
        return self.old.url

    def plan(self) -> FaultPlan:
        return FaultPlan(self.name, (Target("http:server", self.old.url),), "503, then the name moves",
                         RevertAction("none", {}, "nothing"))

    def inject(self) -> None:
        self.old.switch("503")
        self.dns_server.switch(DnsMode(answers=("127.0.0.2",), ttl=0), at=time.time() + 1.0)


class _Backend(OfflineBackend):
    """Offline, with the scripted DNS server as its authoritative resolver."""

    def __init__(self, authoritative: tuple[str, int]) -> None:
        self.authoritative = authoritative

    def resolvers(self) -> list[Any]:
        return [Resolver("authoritative", *self.authoritative, "authoritative")]


def test_every_profile_is_measured_and_the_summary_has_a_line_each(tmp_path: Path) -> None:
    clock = SystemClock()
    policy = WatchPolicy(steady_consecutive=5, steady_timeout_s=20, stable_window_s=1.0, hold_s=0.5,
                         profile_grace_s=3.0, watch_timeout_s=20, tail_s=0)
    with ScriptedHttpServer("ok", identity="i-old") as old, new_home(old.port), \
            _V4Only(DnsMode(answers=("127.0.0.1",), ttl=0)) as dns_server:
        primary = HttpProbe("http:app", f"http://app.gameday.test:{old.port}/", rate_hz=10, timeout_s=0.5,
                            dns_server=dns_server.address)
        run = FailoverRun(
            backend=_Backend(dns_server.address), stack_id="scripted", scenario="move", fault=_Moves(old, dns_server),
            probes=[primary], primary_probe="http:app", budget_s=10, prediction=None,
            journal=RollbackJournal(tmp_path / "rollback.jsonl"), timeline=Timeline.begin("t", clock), clock=clock,
            policy=policy, profile="fast")
        result = run_failover(run)

    assert result.verdict == "passed", result.message
    seen = {c.key: c for c in result.clients}
    assert seen["fresh-authoritative"].probe == "http:app"  # the primary already is that client
    fresh = seen["fresh-authoritative"].recovered_s
    # The name moves about a second after the fault and its TTL is 0: recovered soon after, however busy the machine
    # (the pinned clients below never recover within the 20 s watch).
    assert fresh is not None and 0.9 < fresh < 10.0
    for pinned in ("keepalive", "dns-cache-30s", "resolve-once"):  # still on the old address
        assert seen[pinned].failed and seen[pinned].recovered_s is None, seen[pinned]
    assert result.rto is not None and result.rto.watched_s >= 3.0  # the watch waited for the profiles
    assert {(o.key, o.why) for o in result.clients_omitted} == {("fresh-caching", "unresolved"),
                                                               ("ipv6-first", "ipv4-only")}
    summary = render_summary({"run_id": "r", "passed": True, "backend": "localcloud", "profile": "fast",
                              "scenarios": [result.to_dict(with_timeline=False)]})
    assert "Client profiles (localcloud, time profile fast):" in summary
    assert f"- fresh clients resolving at the authoritative server: {fresh:.1f} s" in summary
    assert "- clients caching DNS for 30 s (the JVM's default): not recovered by +" in summary
    assert "- IPv6-first clients: omitted (ipv4-only)" in summary
