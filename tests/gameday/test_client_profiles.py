"""Client profiles: the HttpProbe options they stand on (a runtime's own DNS cache, resolve-once, IPv6-first),
measured over real loopback sockets and a scripted DNS server, and how profiles are derived and summarised."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from gameday.backends.base import Resolver
from gameday.clients import (
    JVM_DNS_CACHE_S,
    PROFILE_RATE_HZ,
    OmittedProfile,
    ProfileRecovery,
    plan_profiles,
    summary_lines,
)
from gameday.errors import ConfigError
from gameday.probes import HttpProbe, ProbeRunner
from gameday.probes.scripted import DnsMode, ScriptedDnsServer, ScriptedHttpServer
from gameday.probes.specs import RESOLVE_ONCE
from gameday.timeline import Timeline

LOOPBACK = ["127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104"]
AUTHORITATIVE = Resolver("authoritative", "127.0.0.1", 5301, "authoritative")
CACHING = Resolver("caching", "127.0.0.1", 5302, "caching")


class _NewHome(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("X-Served-By", "i-new")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        pass


@contextmanager
def new_home(port: int) -> Iterator[None]:
    """The service's new address, 127.0.0.2, on the same port as the old one."""
    server = ThreadingHTTPServer(("127.0.0.2", port), _NewHome)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _peers(timeline: Timeline, probe: str, since: float, until: float = math.inf) -> set[str]:
    return {(s.peer or "").rpartition(":")[0] for s in timeline.samples_of(probe) if since <= s.at < until}


def test_each_runtime_follows_a_moved_name_as_its_dns_cache_allows() -> None:
    with ScriptedHttpServer("ok", identity="i-old") as old, new_home(old.port), \
            ScriptedDnsServer(DnsMode(answers=("127.0.0.1",), ttl=0)) as dns_server:
        url = f"http://app.gameday.test:{old.port}/"
        kinds = {"fresh": {}, "cached": {"dns_cache_s": 2.0}, "once": {"dns_cache_s": RESOLVE_ONCE},
                 "pooled": {"keepalive": True}}
        # A timeout a busy machine does not reach: the scripted server answers at once.
        probes = [HttpProbe(name, url, rate_hz=10, timeout_s=2.0, dns_server=dns_server.address, **options)
                  for name, options in kinds.items()]  # type: ignore[arg-type]
        timeline = Timeline.begin("profiles")
        moved_at = time.time() + 1.0
        dns_server.switch(DnsMode(answers=("127.0.0.2",), ttl=0), at=moved_at)
        with ProbeRunner(timeline, probes, allowed_networks=LOOPBACK, duration_s=4.0) as runner:
            assert runner.wait_done(15.0)

    assert all(s.good for s in timeline.samples)
    assert _peers(timeline, "fresh", 0, moved_at - 0.05) == {"127.0.0.1"}
    assert _peers(timeline, "fresh", moved_at + 0.05) == {"127.0.0.2"}
    # resolved at its first send, just after the start: kept 2 s, so still on the old address after the move
    assert "127.0.0.1" in _peers(timeline, "cached", moved_at + 0.2)
    assert _peers(timeline, "cached", moved_at + 2.3) == {"127.0.0.2"}
    assert _peers(timeline, "once", 0) == {"127.0.0.1"}
    # The pooled connection, opened before the move, still serves after it. Only a connection the pool opened after
    # the move (a second one, when a request was still in flight on a slow machine) may reach the new address.
    assert "127.0.0.1" in _peers(timeline, "pooled", moved_at + 1.0)
    moved = [s for s in timeline.samples_of("pooled") if (s.peer or "").startswith("127.0.0.2:")]
    assert all(s.at >= moved_at for s in moved) and (not moved or any(s.reused is False for s in moved))


class _DualStack(ScriptedDnsServer):
    """Answers A with 127.0.0.1 and AAAA with its IPv4-mapped form, whatever the name."""

    def reply(self, wire: bytes, *, over_tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        address = "::ffff:127.0.0.1" if question.rdtype == dns.rdatatype.AAAA else "127.0.0.1"
        response.answer.append(dns.rrset.from_text_list(question.name, 0, "IN", question.rdtype, [address]))
        return response.to_wire()


def test_an_ipv6_first_client_connects_to_the_aaaa_address() -> None:
    with ScriptedHttpServer("ok") as server, _DualStack(DnsMode()) as dns_server:
        url = f"http://app.gameday.test:{server.port}/"
        probes = [HttpProbe("v6", url, rate_hz=10, dns_server=dns_server.address, prefer_ipv6=True),
                  HttpProbe("v4", url, rate_hz=10, dns_server=dns_server.address)]
        timeline = Timeline.begin("ipv6")
        with ProbeRunner(timeline, probes, allowed_networks=LOOPBACK, duration_s=0.3) as runner:
            assert runner.wait_done(10.0)

    assert all(s.good for s in timeline.samples)
    assert _peers(timeline, "v6", 0) == {"[::ffff:127.0.0.1]"}
    assert _peers(timeline, "v4", 0) == {"127.0.0.1"}


@pytest.mark.parametrize("cache", [-1.0, float("nan"), True])
def test_a_bad_dns_cache_is_refused(cache: float) -> None:
    with pytest.raises(ConfigError, match="dns_cache_s"):
        HttpProbe("p", "http://app.gameday.test/", rate_hz=1, dns_cache_s=cache)


def test_a_dns_cache_needs_a_name() -> None:
    with pytest.raises(ConfigError, match="needs a DNS name"):
        HttpProbe("p", "http://127.0.0.5/", rate_hz=1, dns_cache_s=30.0)


def test_profiles_derive_from_the_primary_and_reuse_the_scenarios_own_clients() -> None:
    primary = HttpProbe("http:app@caching", "http://app.gameday.test/", rate_hz=5, timeout_s=2.0,
                        dns_server=(CACHING.host, CACHING.port), identity_header="server")
    at_authoritative = HttpProbe("http:app@authoritative", primary.url, rate_hz=5, timeout_s=2.0,
                                 dns_server=(AUTHORITATIVE.host, AUTHORITATIVE.port), identity_header="server")
    plan = plan_profiles(primary, [primary, at_authoritative], [AUTHORITATIVE, CACHING], has_aaaa=False)

    probe_of = {p.key: p.probe for p in plan.profiles}
    assert probe_of["fresh-caching"] == "http:app@caching"
    assert probe_of["fresh-authoritative"] == "http:app@authoritative"
    added = {p.name: p for p in plan.added}
    assert set(added) == {"client:keepalive", "client:dns-cache-30s", "client:resolve-once"}
    assert added["client:dns-cache-30s"].dns_cache_s == JVM_DNS_CACHE_S
    assert added["client:resolve-once"].dns_cache_s == RESOLVE_ONCE
    assert added["client:keepalive"].keepalive
    assert all(p.dns_server == (CACHING.host, CACHING.port) and p.rate_hz == PROFILE_RATE_HZ
               and p.identity_header == "server" for p in plan.added)
    assert plan.omitted == (OmittedProfile("ipv6-first", "IPv6-first clients", "ipv4-only"),)


def test_a_url_naming_an_address_has_no_profiles_and_says_why() -> None:
    primary = HttpProbe("http:eip", "http://127.0.0.5/", rate_hz=20)
    plan = plan_profiles(primary, [primary], [AUTHORITATIVE, CACHING])

    assert plan.profiles == () and plan.added == ()
    assert {o.why for o in plan.omitted} == {"address"}
    assert summary_lines((), plan.omitted) == ["client profiles: omitted (address)"]


def _recovery(key: str, recovered: float | None, failed: bool = True) -> ProfileRecovery:
    return ProfileRecovery(key, key.replace("-", " ") + " clients", f"client:{key}", recovered, failed, 40.0, 80)


def test_the_summary_has_a_line_per_profile_when_they_differ() -> None:
    lines = summary_lines([_recovery("fresh", 9.04), _recovery("dns-cache-30s", 41.2), _recovery("once", None)],
                          [OmittedProfile("ipv6-first", "IPv6-first clients", "ipv4-only")])

    assert lines == ["fresh clients: 9.0 s", "dns cache 30s clients: 41.2 s",
                     "once clients: not recovered by +40.0 s (end of the watch)",
                     "IPv6-first clients: omitted (ipv4-only)"]


def test_the_summary_has_one_line_when_every_profile_recovered_alike() -> None:
    lines = summary_lines([_recovery("fresh", 9.0), _recovery("pooled", 9.5)], [])

    assert lines == ["every client profile recovered alike (9.0–9.5 s): fresh clients, pooled clients"]


def test_without_any_resolver_the_runtimes_use_the_system_one_and_the_rest_say_unresolved() -> None:
    primary = HttpProbe("http:app", "http://app.gameday.test/", rate_hz=5)
    plan = plan_profiles(primary, [primary], [])

    assert [p.key for p in plan.profiles] == ["keepalive", "dns-cache-30s", "resolve-once"]
    assert all(p.dns_server is None for p in plan.added)
    assert {o.key: o.why for o in plan.omitted} == {"fresh-authoritative": "unresolved",
                                                    "fresh-caching": "unresolved", "ipv6-first": "unresolved"}
