"""Pre-flight: what must hold before the first fault of a run, each check a pass or a fail with one line.

The prediction already over the budget, N-1 capacity at the configured load (a kit's own check), the
health checks, record TTLs and origin-group failover codes as the deployed resources say (read through the
AWS APIs, printed, and compared with the configuration the model reads), the stop conditions' alarms. Every
probe healthy is the steady state each scenario waits for before its fault (gameday.scenario), not repeated
here. A failed check refuses the run: `PreflightRefused`, one line per reason, exit 2, nothing injected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.model import Prediction
from gameday.stacks import DeployedStack, stack_config
from gameday.stopconditions import AlarmState
from gameday.template import StackConfig
from localcloud.profiles import Profile

HEALTH_CHECK = "AWS::Route53::HealthCheck"
RECORD_SET = "AWS::Route53::RecordSet"
DISTRIBUTION = "AWS::CloudFront::Distribution"
# Health-check settings the failover time is made of (docs/model.md): a change to one moves the prediction.
HEALTH_SETTINGS = ("RequestInterval", "FailureThreshold", "Type", "Port", "ResourcePath")
_SUB = re.compile(r"\$\{([A-Za-z0-9:]+)\}")


@dataclass(frozen=True)
class Check:
    """One pre-flight check: what it is about (a scenario, a stack, a resource), what it checked, and the
    values it read, in one line."""

    subject: str
    name: str
    ok: bool
    detail: str

    @property
    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.subject}: {self.name}: {self.detail}"

    @property
    def reason(self) -> str:
        return f"pre-flight refused {self.subject}: {self.name}: {self.detail}"


class PreflightRefused(ConfigError):
    """A pre-flight check failed: one line per failed check, before any fault."""

    def __init__(self, failed: Sequence[Check]) -> None:
        self.failed = tuple(failed)
        super().__init__("\n".join(c.reason for c in self.failed))


@dataclass(frozen=True)
class PreflightContext:
    """What a check may read: the backend (boto3 clients), the judged profile, the configured load's peak
    requests/s (None: the run has no --load)."""

    backend: Backend
    profile: Profile
    load_rps: float | None = None


def refuse_if_failed(checks: Iterable[Check]) -> list[Check]:
    """The checks, when every one passed; otherwise `PreflightRefused` with the failed ones."""
    found = list(checks)
    failed = [c for c in found if not c.ok]
    if failed:
        raise PreflightRefused(failed)
    return found


def within_budget(subject: str, prediction: Prediction, budget_s: float, *, basis: str = "") -> Check:
    """The prediction's expected failover time against the budget: over it, the run can only fail."""
    ok = prediction.mean_s <= budget_s
    slowest = max(prediction.phases, key=lambda p: p.mean_s, default=None)
    why = f"; longest phase {slowest.name} {slowest.mean_s:.2f} s ({slowest.source})" if slowest and not ok else ""
    return Check(subject, "prediction within budget", ok,
                 f"predicted {prediction.mean_s:.2f} s (range {prediction.low_s:.2f}-{prediction.high_s:.2f} s, "
                 f"profile {prediction.profile}{', ' + basis if basis else ''}) "
                 f"{'within' if ok else 'OVER'} the budget {budget_s:.2f} s{why}")


def n_minus_one(subject: str, nodes: int, per_node_rps: float, load_rps: float | None, source: str) -> Check:
    """Whether the nodes left after one is lost carry the configured load."""
    if nodes < 2:
        return Check(subject, "N-1 capacity", False, f"{nodes} node(s): losing one leaves nothing to carry the load")
    if load_rps is None:
        return Check(subject, "N-1 capacity", True, f"no --load: {nodes - 1} of {nodes} nodes carry no extra load "
                                                    f"({per_node_rps:g} requests/s each, {source})")
    left = (nodes - 1) * per_node_rps
    ok = load_rps <= left
    return Check(subject, "N-1 capacity", ok,
                 f"{nodes - 1} of {nodes} nodes carry {left:g} requests/s ({per_node_rps:g} each, {source}); the "
                 f"configured load peaks at {load_rps:g} requests/s{'' if ok else ': more than they carry'}")


def alarms_ok(backend: Backend, alarms: Sequence[str], subject: str) -> list[Check]:
    """Every stop-condition alarm exists and is OK (an alarm already in ALARM would stop the fault at once;
    one that does not exist could never stop it)."""
    found: list[Check] = []
    for alarm in alarms:
        state = AlarmState(backend, alarm).state_value()
        found.append(Check(subject, f"stop-condition alarm {alarm}", state == "OK",
                           f"not found in {backend.region}" if state is None else f"state {state}"))
    return found


def deployed_configuration(backend: Backend, stack: DeployedStack) -> list[Check]:
    """Health checks, record TTLs and origin-group failover codes as the deployed resources report them,
    against the template and parameters the model reads (`stack_config`)."""
    config = stack_config(stack.spec.stack_id, stack)
    try:
        return [*_health_checks(backend, stack, config), *_record_ttls(backend, stack, config),
                *_origin_groups(backend, stack, config)]
    except (BotoCoreError, ClientError, ConfigError, ValueError) as exc:  # unread is not checked: a failed check
        return [Check(stack.name, "deployed configuration", False, f"cannot read it: {' '.join(str(exc).split())}")]


def _health_checks(backend: Backend, stack: DeployedStack, config: StackConfig) -> list[Check]:
    route53 = backend.client("route53")
    found: list[Check] = []
    for logical, (kind, physical) in stack.resources.items():
        if kind != HEALTH_CHECK:
            continue
        deployed = route53.get_health_check(HealthCheckId=physical)["HealthCheck"]["HealthCheckConfig"]
        # Only what the template states as a value: a condition (`Fn::If`) is CloudFormation's to resolve.
        assumed = {k: config.value(logical, "HealthCheckConfig", k) for k in HEALTH_SETTINGS}
        differ = [f"{k} {deployed.get(k)!r} (configured {v!r})" for k, v in assumed.items()
                  if _scalar(v) and k in deployed and str(deployed[k]) != str(v)]
        shown = ", ".join(f"{k} {deployed[k]}" for k in HEALTH_SETTINGS if k in deployed)
        found.append(Check(f"{stack.name} {logical}", "Route 53 health check", not differ,
                           f"{shown}" + (f"; differs from the configuration the model reads: {'; '.join(differ)}"
                                         if differ else "")))
    return found


def _record_ttls(backend: Backend, stack: DeployedStack, config: StackConfig) -> list[Check]:
    """Each record the stack declares with a TTL, found in its zone by name, type and set identifier."""
    route53 = backend.client("route53")
    found: list[Check] = []
    zones: dict[str, list[dict[str, Any]]] = {}
    for logical, properties in config.resources(RECORD_SET).items():
        ttl, zone = config.value(logical, "TTL"), _ref_id(stack, properties.get("HostedZoneId"))
        name = _sub(config, stack, config.value(logical, "Name"))
        if not _scalar(ttl) or zone is None or name is None:
            continue  # an alias (no TTL of its own), or a zone or name this check cannot resolve
        if zone not in zones:
            pages = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone)
            zones[zone] = [r for page in pages for r in page["ResourceRecordSets"]]
        wanted = (name.rstrip(".").lower(), config.value(logical, "Type"), config.value(logical, "SetIdentifier"))
        match = [r for r in zones[zone]
                 if (r["Name"].rstrip(".").lower(), r["Type"], r.get("SetIdentifier")) == wanted]
        if not match:
            found.append(Check(f"{stack.name} {logical}", "record TTL", False,
                               f"{name} {wanted[1]} not found in zone {zone}"))
            continue
        deployed = match[0].get("TTL")
        ok = deployed is not None and float(deployed) == float(ttl)
        found.append(Check(f"{stack.name} {logical}", "record TTL", ok,
                           f"{name} {wanted[1]} TTL {deployed} s" + ("" if ok else f" (configured {ttl} s)")))
    return found


def _origin_groups(backend: Backend, stack: DeployedStack, config: StackConfig) -> list[Check]:
    found: list[Check] = []
    for logical, (kind, _) in stack.resources.items():
        if kind != DISTRIBUTION:
            continue
        deployed, source = failover_codes(backend, stack, logical)
        assumed = {g["Id"]: _codes(g) for g in _template_groups(config, logical)}
        for group, codes in deployed.items():
            wanted = assumed.get(group)
            ok = wanted is None or set(wanted) == set(codes)
            found.append(Check(f"{stack.name} {logical}", f"origin group {group}", ok,
                               f"failover codes {', '.join(map(str, codes)) or 'none'} ({source})"
                               + ("" if ok else f"; configured {', '.join(map(str, wanted or []))}")))
    return found


def failover_codes(backend: Backend, stack: DeployedStack, logical_id: str) -> tuple[dict[str, tuple[int, ...]], str]:
    """Origin group id -> the status codes that make CloudFront try the next origin, and where they were read:
    GetDistributionConfig, or the deployed template when the backend's CloudFront API does not know the
    distribution (localcloud serves CloudFormation's distributions outside moto's CloudFront)."""
    distribution = stack.resources[logical_id][1]
    try:
        config = backend.client("cloudfront").get_distribution_config(Id=distribution)["DistributionConfig"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchDistribution":
            raise
        groups = _template_groups(stack_config(stack.spec.stack_id, stack), logical_id)
        return ({g["Id"]: _codes(g) for g in groups},
                f"from the deployed template: the {backend.name} CloudFront API does not know {distribution}")
    return ({g["Id"]: _codes(g) for g in config.get("OriginGroups", {}).get("Items", [])},
            f"GetDistributionConfig {distribution}")


def codes_include(backend: Backend, stack: DeployedStack, needed: Sequence[int], why: str) -> list[Check]:
    """Every origin group of the stack fails over on `needed` (what the scenario's fault makes the primary
    answer, and the model counts as one round trip)."""
    found: list[Check] = []
    for logical, (kind, _) in stack.resources.items():
        if kind != DISTRIBUTION:
            continue
        deployed, source = failover_codes(backend, stack, logical)
        for group, codes in deployed.items():
            missing = [c for c in needed if c not in codes]
            found.append(Check(f"{stack.name} origin group {group}", "failover codes cover the fault", not missing,
                               f"codes {', '.join(map(str, codes)) or 'none'} ({source})"
                               + (f"; missing {', '.join(map(str, missing))}, which {why}" if missing else "")))
    return found


def _template_groups(config: StackConfig, logical_id: str) -> list[Mapping[str, Any]]:
    groups = config.value(logical_id, "DistributionConfig", "OriginGroups", "Items", default=[])
    return [g for g in groups if isinstance(g, Mapping) and "Id" in g] if isinstance(groups, list) else []


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _codes(group: Mapping[str, Any]) -> tuple[int, ...]:
    items = group.get("FailoverCriteria", {}).get("StatusCodes", {}).get("Items", [])
    return tuple(int(c) for c in items)


def _ref_id(stack: DeployedStack, value: Any) -> str | None:
    """A `Ref` to a resource of this stack as its physical id; a literal id as it is."""
    if isinstance(value, str):
        return value.removeprefix("/hostedzone/")
    if isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in stack.resources:
        return stack.resources[value["Ref"]][1].removeprefix("/hostedzone/")
    return None


def _sub(config: StackConfig, stack: DeployedStack, value: Any) -> str | None:
    """A name as a string: literal, or an `Fn::Sub` of parameters and the stack name; None otherwise."""
    if isinstance(value, str):
        return value
    if not (isinstance(value, Mapping) and isinstance(value.get("Fn::Sub"), str)):
        return None
    names = {**{p: None for p in config.template.get("Parameters", {})}, "AWS::StackName": stack.name}
    text = value["Fn::Sub"]
    if any(n not in names for n in _SUB.findall(text)):
        return None
    return _SUB.sub(lambda m: stack.name if m.group(1) == "AWS::StackName" else config.parameter(m.group(1)), text)
