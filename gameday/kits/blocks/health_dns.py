"""The steady state of a name behind Route 53 health checks (simple, weighted, multivalue or failover records):
every health check has real observations and passes, and the authoritative answers hold exactly the
addresses the healthy records imply.

Never accepted as steady: a health check nobody has probed yet (no observations, or fewer than the three
checker regions Route 53 always uses: a canned single "Success" is no probe), observations older than the
check, a check Route 53 already answers by as unhealthy (ground truth, where the backend has it), and
Route 53 failing open (every check unhealthy, so it answers every record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
from tenacity import Retrying, retry_if_result, wait_fixed

from gameday.analysis import HEALTH_DECISION
from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.stacks import DeployedStack
from gameday.timeline import Event
from localcloud.profiles import Profile
from localcloud.timescale import scaled

MIN_CHECKERS = 3  # Route 53 checks from at least three regions; fewer observations are not its verdict
MIN_HEALTHY_SHARE = 0.9  # of a check's checkers whose last observation succeeded
DNS_QUERIES = 40  # weighted answers name one address each: 40 answers name all of them with near certainty
POLL_S = 0.5


@dataclass(frozen=True)
class Record:
    """One record set of the name: its policy, addresses and health check (as Route 53 holds it)."""

    policy: str  # simple | weighted | multivalue | failover | other
    values: tuple[str, ...]
    health_check_id: str | None
    weight: int | None = None
    failover: str | None = None  # PRIMARY | SECONDARY


@dataclass(frozen=True)
class CheckReading:
    health_check_id: str
    observations: int  # real ones: after the check was created
    healthy_share: float
    published_healthy: bool | None  # as DNS answers by it (ground truth); None: not known

    @property
    def probed(self) -> bool:
        return self.observations >= MIN_CHECKERS

    @property
    def healthy(self) -> bool:
        return self.probed and self.healthy_share >= MIN_HEALTHY_SHARE and self.published_healthy is not False


@dataclass(frozen=True)
class HealthDnsReading:
    name: str
    records: tuple[Record, ...]
    checks: tuple[CheckReading, ...]
    answered: frozenset[str]  # every address the authoritative answers named

    def expected(self) -> frozenset[str]:
        """The addresses Route 53 answers when the healthy checks are the ones that pass."""
        healthy = {c.health_check_id for c in self.checks if c.healthy}
        return expected_answers(self.records, healthy)

    def why_not_steady(self) -> str | None:
        unprobed = [c.health_check_id for c in self.checks if not c.probed]
        if unprobed:
            return (f"health checks {', '.join(unprobed)} have no observations from at least {MIN_CHECKERS} "
                    f"checkers since they were created (not probed yet: Route 53 counts them healthy blindly)")
        unhealthy = [c for c in self.checks if not c.healthy]
        everything = frozenset(v for r in self.records for v in r.values)
        if unhealthy and len(unhealthy) == len(self.checks) and self.answered >= everything:
            return (f"every health check is unhealthy ({_shares(unhealthy)}) and Route 53 is failing open: "
                    f"it answers all {len(everything)} addresses for {self.name}")
        if unhealthy:
            return f"health checks unhealthy: {_shares(unhealthy)}"
        if not self.answered:
            return f"no answers for {self.name} at the authoritative server"
        expected = self.expected()
        if self.answered != expected:
            return (f"the answers for {self.name} are {sorted(self.answered)}, not exactly the healthy "
                    f"addresses {sorted(expected)}")
        return None


def _shares(checks: Sequence[CheckReading]) -> str:
    return ", ".join(f"{c.health_check_id} {c.healthy_share:.0%} of {c.observations} checkers ok"
                     + (", published unhealthy" if c.published_healthy is False else "") for c in checks)


def expected_answers(records: Sequence[Record], healthy: set[str]) -> frozenset[str]:
    """Route 53's choice (docs/aws-timings.md §3) over healthy checks; none healthy: it fails open."""
    def ok(record: Record) -> bool:
        return record.health_check_id is None or record.health_check_id in healthy

    if not records:
        return frozenset()
    policy = records[0].policy
    if policy == "simple":
        return frozenset(v for r in records for v in r.values)
    if policy == "failover":
        primary = next((r for r in records if r.failover == "PRIMARY"), None)
        secondary = next((r for r in records if r.failover == "SECONDARY"), None)
        chosen = next((r for r in (primary, secondary) if r is not None and ok(r)), primary or secondary)
        return frozenset(chosen.values) if chosen else frozenset()
    pool = [r for r in records if ok(r)] or list(records)
    if policy == "weighted" and any((r.weight or 0) > 0 for r in pool):
        pool = [r for r in pool if (r.weight or 0) > 0]
    return frozenset(v for r in pool for v in r.values)


def records_of(route53: Any, zone_id: str, name: str, rtype: str = "A") -> tuple[Record, ...]:
    fqdn = name.rstrip(".").lower() + "."
    found = []
    pages = route53.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id, StartRecordName=fqdn, StartRecordType=rtype)
    for page in pages:
        for raw in page["ResourceRecordSets"]:
            if _bare(raw["Name"]) != _bare(fqdn) or raw["Type"] != rtype:
                continue
            policy = ("multivalue" if raw.get("MultiValueAnswer") else "failover" if raw.get("Failover")
                      else "weighted" if "Weight" in raw else "simple" if "SetIdentifier" not in raw else "other")
            found.append(Record(policy, tuple(r["Value"] for r in raw.get("ResourceRecords", [])),
                                raw.get("HealthCheckId"), raw.get("Weight"), raw.get("Failover")))
    return tuple(found)


def zone_of(route53: Any, name: str) -> str:
    """The hosted zone that holds `name` (the longest zone name it ends with; public before private)."""
    fqdn = name.rstrip(".").lower()
    zones = [z for page in route53.get_paginator("list_hosted_zones").paginate() for z in page["HostedZones"]]
    matching = [z for z in zones if fqdn == _bare(z["Name"]) or fqdn.endswith("." + _bare(z["Name"]))]
    if not matching:
        raise LookupError(f"no hosted zone holds {name}")
    best = max(matching, key=lambda z: (len(z["Name"]), not z.get("Config", {}).get("PrivateZone", False)))
    return str(best["Id"]).rsplit("/", 1)[-1]


def _bare(name: str) -> str:
    return name.rstrip(".").lower()


def created_at(backend: Backend, stack: DeployedStack) -> dict[str, float]:
    """Health check id -> when CloudFormation created it (epoch s), for the checks of `stack`."""
    cfn = backend.client("cloudformation", region=stack.spec.region)
    rows = cfn.describe_stack_resources(StackName=stack.stack_arn)["StackResources"]
    return {row["PhysicalResourceId"]: _epoch(row["Timestamp"]) for row in rows
            if row.get("ResourceType") == "AWS::Route53::HealthCheck" and row.get("PhysicalResourceId")}


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return float(value)


def check_reading(route53: Any, health_check_id: str, since: float | None,
                  published: Mapping[str, bool]) -> CheckReading:
    """The checkers' last observations newer than `since` (the check's creation); each checker once."""
    observations = route53.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
    real: dict[tuple[str, str], bool] = {}
    for o in observations:
        report = o.get("StatusReport", {})
        checked = report.get("CheckedTime")
        if since is not None and (checked is None or _epoch(checked) < since):
            continue
        real[(str(o.get("Region", "")), str(o.get("IPAddress", "")))] = str(report.get("Status", "")).startswith(
            "Success")
    share = sum(real.values()) / len(real) if real else 0.0
    return CheckReading(health_check_id, len(real), share, published.get(health_check_id))


def published_health(events: Sequence[Event]) -> dict[str, bool]:
    """Ground truth: per health check, the health DNS answers by (the last published decision)."""
    state: dict[str, bool] = {}
    for event in sorted(events, key=lambda e: e.at):
        if event.kind == HEALTH_DECISION and event.detail.get("published"):
            state[event.subject] = bool(event.detail.get("healthy"))
    return state


def answered(server: tuple[str, int], name: str, queries: int = DNS_QUERIES) -> frozenset[str]:
    """Every address `queries` A answers from `server` named together (a lost query is just not counted)."""
    seen: set[str] = set()
    for _ in range(queries):
        try:
            reply = dns.query.udp(dns.message.make_query(name, "A"), server[0], port=server[1], timeout=1.0)
        except (dns.exception.DNSException, OSError):
            continue
        seen.update(item.to_text() for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for item in rrset)
    return frozenset(seen)


def authoritative_server(backend: Backend) -> tuple[str, int] | None:
    return next(((r.host, r.port) for r in backend.resolvers() if r.kind == "authoritative"), None)


@dataclass(frozen=True)
class HealthDns:
    """A name in a deployed stack, behind health-checked records, and where to ask for it."""

    backend: Backend
    stack: DeployedStack
    name: str
    server: tuple[str, int]

    def read(self, created: Mapping[str, float]) -> HealthDnsReading:
        route53 = self.backend.client("route53")
        records = records_of(route53, zone_of(route53, self.name), self.name)
        published = published_health(self.backend.ground_truth())
        ids = list(dict.fromkeys(r.health_check_id for r in records if r.health_check_id))
        checks = tuple(check_reading(route53, hc, created.get(hc), published) for hc in ids)
        return HealthDnsReading(self.name, records, checks, answered(self.server, self.name))

    def settle_s(self, profile: Profile) -> float:
        """Without ground truth (AWS): how long after every checker passed DNS may still answer by the old
        status: F successes of the slowest check plus the status delay."""
        route53 = self.backend.client("route53")
        worst = 0.0
        for record in records_of(route53, zone_of(route53, self.name), self.name):
            if record.health_check_id:
                config = route53.get_health_check(HealthCheckId=record.health_check_id)["HealthCheck"][
                    "HealthCheckConfig"]
                interval = scaled(profile, "route53.health_check.interval", float(config.get("RequestInterval", 30)))
                worst = max(worst, int(config.get("FailureThreshold", 3)) * interval)
        return worst + profile.delay("route53.status_to_dns").high


def not_steady(target: HealthDns, clock: Clock, profile: Profile, timeout_s: float) -> str | None:
    """Why the name is not in its steady state within `timeout_s` (None: it is)."""
    created = created_at(target.backend, target.stack)
    last: list[str | None] = ["no reading"]

    def reason() -> str | None:
        last[0] = target.read(created).why_not_steady()
        return last[0]

    if not until(lambda: reason() is None, clock, timeout_s):
        return last[0]
    if not target.backend.ground_truth():  # no ground truth says when DNS answers by the new status: wait it
        clock.sleep(target.settle_s(profile))
        return reason()
    return None


def until(condition: Callable[[], bool], clock: Clock, timeout_s: float, poll_s: float = POLL_S) -> bool:
    """Whether `condition` came true within `timeout_s` on the injected clock."""
    deadline = clock.monotonic() + timeout_s
    retrying = Retrying(retry=retry_if_result(lambda ok: not ok), wait=wait_fixed(poll_s),
                        stop=lambda _: clock.monotonic() >= deadline, sleep=clock.sleep,
                        retry_error_callback=lambda _: False)
    return bool(retrying(condition))
