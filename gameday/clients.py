"""Client profiles: the same service seen by clients that find it differently (a fresh lookup at the
authoritative server, one behind a caching resolver, a pooled keep-alive connection, a runtime that caches DNS
itself or resolves once, an IPv6-first client), each a real probe derived from the scenario's primary HTTP
probe, and the recovery time each of them saw, read off the timeline."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from gameday.backends.base import Backend, Resolver
from gameday.probes.specs import RESOLVE_ONCE, HttpProbe, is_ip_literal, parse_http_url
from gameday.timeline import Sample

log = logging.getLogger(__name__)

PROFILE_RATE_HZ = 2.0  # a few samples a second tell a recovery to half a second; six of them cost ~12 sends/s
JVM_DNS_CACHE_S = 30.0  # networkaddress.cache.ttl's default when no security manager is installed
AAAA_LOOKUP_TIMEOUT_S = 1.0
# Recoveries closer than this are the same to a client (a few samples at PROFILE_RATE_HZ): one line says so.
SAME_WITHIN_S = 1.0
CLIENT_PROBE_PREFIX = "client:"  # the probes a profile adds (the live progress line leaves them out)


@dataclass(frozen=True)
class ClientProfile:
    """One client behaviour and the probe that measures it (a probe of the scenario's own when it already is
    that client)."""

    key: str  # fresh-authoritative | fresh-caching | keepalive | dns-cache-30s | resolve-once | ipv6-first
    label: str  # how the summary names the clients, e.g. "clients caching DNS for 30 s"
    probe: str


@dataclass(frozen=True)
class OmittedProfile:
    """A profile this scenario cannot have, and why in one word (no name, no AAAA record, no resolver)."""

    key: str
    label: str
    why: str  # "address" | "ipv4-only" | "unresolved"


@dataclass(frozen=True)
class ProfileRecovery:
    """What one profile's clients saw between the fault and the end of the watch (seconds since the fault)."""

    key: str
    label: str
    probe: str
    recovered_s: float | None  # fault -> good for the stable window again; 0.0 when it never failed
    failed: bool  # any failed sample after the fault
    watched_s: float
    samples: int

    def line(self) -> str:
        if self.samples == 0:
            return f"{self.label}: no samples"
        if not self.failed:
            return f"{self.label}: never failed ({self.samples} samples)"
        if self.recovered_s is None:
            return f"{self.label}: not recovered by +{self.watched_s:.1f} s (end of the watch)"
        return f"{self.label}: {self.recovered_s:.1f} s"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}


@dataclass(frozen=True)
class ProfilePlan:
    """The profiles of one scenario: which probe measures each, the probes to add, and what was left out."""

    profiles: tuple[ClientProfile, ...] = ()
    added: tuple[HttpProbe, ...] = ()
    omitted: tuple[OmittedProfile, ...] = ()


LABELS = {
    "fresh-authoritative": "fresh clients resolving at the authoritative server",
    "fresh-caching": "fresh clients behind the caching resolver (its TTL)",
    "keepalive": "pooled keep-alive clients",
    "dns-cache-30s": f"clients caching DNS for {JVM_DNS_CACHE_S:.0f} s (the JVM's default)",
    "resolve-once": "clients resolving once at start",
    "ipv6-first": "IPv6-first clients",
}


def cache_label(cache_s: float) -> str:
    """The 30 s-cache profile's name; under a scaled time profile it says the seconds it really cached."""
    paced = "" if math.isclose(cache_s, JVM_DNS_CACHE_S) else f", {cache_s:g} s at this time profile's pace as TTLs are"
    return f"clients caching DNS for {JVM_DNS_CACHE_S:.0f} s (the JVM's default{paced})"


def plan_for_run(primary_probe: str, probes: Sequence[Any], backend: Backend,
                 client_cache_s: float = JVM_DNS_CACHE_S) -> ProfilePlan:
    """The profiles of a run: none when its primary probe is not HTTP. `client_cache_s`: how long the caching
    runtime keeps an answer (the JVM's 30 s, scaled like the record TTLs under a faster time profile)."""
    primary = next((p for p in probes if isinstance(p, HttpProbe) and p.name == primary_probe), None)
    if primary is None:
        return ProfilePlan()
    try:
        resolvers = backend.resolvers()
    except Exception as exc:  # profiles enrich the report; a backend that names no resolvers has fewer of them
        log.warning("no resolvers for the client profiles from %s: %s", backend.name, exc)
        resolvers = []
    return plan_profiles(primary, probes, resolvers, client_cache_s=client_cache_s)


def plan_profiles(primary: HttpProbe, probes: Sequence[Any], resolvers: Sequence[Resolver],
                  has_aaaa: bool | None = None, client_cache_s: float = JVM_DNS_CACHE_S) -> ProfilePlan:
    """The profiles derived from `primary` and the run's `resolvers` (authoritative and caching only). None when
    the URL names an address: no DNS, so no profile differs. `has_aaaa` None: asked at the client's resolver."""
    host = parse_http_url(primary.url).host
    if is_ip_literal(host):
        return ProfilePlan(omitted=tuple(OmittedProfile(k, v, "address") for k, v in LABELS.items()))
    by_kind = {r.kind: r for r in reversed(resolvers) if r.kind in ("authoritative", "caching")}
    authoritative, caching = by_kind.get("authoritative"), by_kind.get("caching")
    # The resolver the runtimes and pools use is the one a client's machine has: the caching one.
    client = (caching.host, caching.port) if caching else primary.dns_server or (
        (authoritative.host, authoritative.port) if authoritative else None)
    base = replace(primary, rate_hz=min(PROFILE_RATE_HZ, primary.rate_hz), keepalive=False, dns_cache_s=0.0,
                   prefer_ipv6=False)
    wanted: dict[str, HttpProbe | None] = {
        "fresh-authoritative": replace(base, dns_server=(authoritative.host, authoritative.port))
        if authoritative else None,
        "fresh-caching": replace(base, dns_server=(caching.host, caching.port)) if caching else None,
        "keepalive": replace(base, dns_server=client, keepalive=True),
        "dns-cache-30s": replace(base, dns_server=client, dns_cache_s=client_cache_s),
        "resolve-once": replace(base, dns_server=client, dns_cache_s=RESOLVE_ONCE),
    }
    if has_aaaa is None:
        has_aaaa = client is not None and aaaa_exists(host, client)
    wanted["ipv6-first"] = replace(base, dns_server=client, prefer_ipv6=True) if has_aaaa else None
    return _assign(wanted, probes, "unresolved" if client is None else "ipv4-only",
                   {**LABELS, "dns-cache-30s": cache_label(client_cache_s)})


def _assign(wanted: dict[str, HttpProbe | None], probes: Sequence[Any], missing_ipv6: str,
            labels: dict[str, str] = LABELS) -> ProfilePlan:
    """Reuse a probe of the scenario that already is the profile's client; name new ones `client:<key>`."""
    existing = [p for p in probes if isinstance(p, HttpProbe)]
    taken = {getattr(p, "name", "") for p in probes}
    profiles: list[ClientProfile] = []
    added: list[HttpProbe] = []
    omitted: list[OmittedProfile] = []
    for key, spec in wanted.items():
        if spec is None:
            omitted.append(OmittedProfile(key, labels[key], missing_ipv6 if key == "ipv6-first" else "unresolved"))
            continue
        same = next((p for p in existing if _client_of(p) == _client_of(spec)), None)
        if same is None:
            name = f"{CLIENT_PROBE_PREFIX}{key}"
            while name in taken:
                name += "'"
            same = replace(spec, name=name)
            added.append(same)
            existing.append(same)
            taken.add(name)
        profiles.append(ClientProfile(key, labels[key], same.name))
    return ProfilePlan(tuple(profiles), tuple(added), tuple(omitted))


def _client_of(spec: HttpProbe) -> tuple[Any, ...]:
    """What makes two probes the same client (not their name, rate or timeout)."""
    return (spec.url, spec.dns_server, spec.keepalive, spec.dns_cache_s, spec.prefer_ipv6, spec.identity_header,
            spec.expected_identities, spec.verify_tls, spec.follow_redirects, spec.expect_location)


def aaaa_exists(host: str, server: tuple[str, int]) -> bool:
    """Whether `host` has an AAAA record at `server` (a server that does not answer: no)."""
    try:
        reply = dns.query.udp(dns.message.make_query(host, dns.rdatatype.AAAA), server[0], port=server[1],
                              timeout=AAAA_LOOKUP_TIMEOUT_S)
    except (dns.exception.DNSException, OSError) as exc:
        log.info("no AAAA answer for %s at %s:%d: %s", host, server[0], server[1], exc)
        return False
    return any(rrset.rdtype == dns.rdatatype.AAAA for rrset in reply.answer)


def recoveries(plan: ProfilePlan, samples_of: Any, *, fault_at: float, end_at: float,
               stable_window_s: float) -> tuple[ProfileRecovery, ...]:
    """Each profile's recovery between the fault and `end_at` (the revert: what comes after is a failback).
    `samples_of`: probe name -> its samples (`Timeline.samples_of`)."""
    found = []
    for profile in plan.profiles:
        watched = [s for s in samples_of(profile.probe) if fault_at <= s.at <= end_at]
        failed = any(not s.good for s in watched)
        recovered = recovered_at(watched, stable_window_s) if failed else fault_at
        found.append(ProfileRecovery(profile.key, profile.label, profile.probe,
                                     None if recovered is None else round(recovered - fault_at, 3), failed,
                                     round(end_at - fault_at, 3), len(watched)))
    return tuple(found)


def recovered_at(samples: Sequence[Sample], stable_window_s: float) -> float | None:
    """The first good sample after the last failure, when good answers from it on span the stable window."""
    last_bad = max((i for i, s in enumerate(samples) if not s.good), default=None)
    if last_bad is None:
        return samples[0].at if samples else None
    after = samples[last_bad + 1:]
    if not after or after[-1].at - after[0].at < stable_window_s - 1e-6:
        return None
    return after[0].at


def settled(plan: ProfilePlan, probes: Sequence[Any], stable_window_s: float,
            streak: Callable[[str], int]) -> Callable[[], bool]:
    """Whether every profile's client has been good for the stable window, from the runner's live `streak`s
    (the watch asks often; reading the timeline that often would cost more than the probes)."""
    rates = {getattr(p, "name", ""): getattr(p, "rate_hz", 1.0) for p in probes}
    needed = {p.probe: max(2, math.ceil(stable_window_s * rates[p.probe])) for p in plan.profiles}
    return lambda: all(streak(name) >= count for name, count in needed.items())


def summary_lines(found: Sequence[ProfileRecovery], omitted: Sequence[OmittedProfile]) -> list[str]:
    """One line per profile where they differ; one line saying they agree where they do not."""
    whys = sorted({o.why for o in omitted})
    if not found:
        return [f"client profiles: omitted ({', '.join(whys)})"] if whys else []
    times = [r.recovered_s if r.failed else 0.0 for r in found]
    known = [t for t in times if t is not None]
    if len(known) == len(times) and max(known) - min(known) <= SAME_WITHIN_S:
        kinds = ", ".join(r.label for r in found)
        lines = [f"every client profile recovered alike ({min(known):.1f}–{max(known):.1f} s): {kinds}"]
    else:
        lines = [r.line() for r in found]
    return lines + [f"{o.label}: omitted ({o.why})" for o in omitted]
