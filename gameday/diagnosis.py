"""Why a stack is not serving: causes read from ground truth, named in the words a user acts on.

A steady state that never comes is reported with what is missing and why: which instance, its user data's
exit status and the error it printed; the Lambda that failed; the lifecycle action nobody completed; the
health check's last observation; the DNS record that was never written. Some causes are *fatal*: ground
truth says the stack cannot get there by itself (a bootstrap that died on the only instance), so the wait
ends at once instead of at its timeout.

localcloud's ground truth (events) tells the most. On AWS the same questions are asked of the APIs a user
would read (group activities, GetHealthCheckStatus, the zone's records); nothing here changes anything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gameday.backends.base import Backend
from gameday.stacks import DeployedStack
from gameday.timeline import Event

log = logging.getLogger(__name__)

ERROR_WORDS = ("error", "denied", "unauthorized", "not authorized", "fail", "invalid", "not found", "no such",
               "cannot", "refused", "exception", "traceback")
MAX_LINE = 500
ENCODED = re.compile(r"\s*Encoded authorization failure message: \S+")
USERDATA_EXIT = "localcloud.userdata.exit"
LAMBDA_RESULT = "localcloud.lambda.result"
LIFECYCLE_WAIT = "localcloud.asg.lifecycle_wait"
LIFECYCLE_COMPLETE = "localcloud.asg.lifecycle_complete"
IAM_DENIED = "localcloud.iam.denied"


@dataclass(frozen=True)
class Cause:
    text: str
    fatal: bool = False  # the stack cannot reach its steady state by itself


@dataclass(frozen=True)
class Subjects:
    """What belongs to the stacks in play, as the backend lists it now."""

    instances: dict[str, str]  # running or pending instance id -> its group ("" for a lone instance)
    functions: frozenset[str]
    health_checks: tuple[str, ...]
    region_of: dict[str, str]  # instance id / function / health check -> the stack's region


class Diagnoser:
    """Causes for the stacks of one scenario; cheap enough to ask once a second while waiting."""

    def __init__(self, backend: Backend, stacks: Sequence[DeployedStack]) -> None:
        self.backend = backend
        self.stacks = list(stacks)
        self._fatal_since: float | None = None

    def fatal_for(self, grace_s: float, now: float) -> list[Cause]:
        """The fatal causes once they have held for `grace_s` (a bootstrap's last command may fail after the
        service started: the probes then see it steady within moments); [] until then."""
        fatal = self.fatal()
        if not fatal:
            self._fatal_since = None
            return []
        if self._fatal_since is None:
            self._fatal_since = now
        return fatal if now - self._fatal_since >= grace_s else []

    def fatal(self) -> list[Cause]:
        """Only what ground truth says cannot recover (localcloud events; nothing on AWS)."""
        if not self.stacks:
            return []
        subjects, events = self._subjects(), self._events()
        causes = _event_causes(events, subjects) + self._addresses(subjects, events)
        return [c for c in causes if c.fatal]

    def explain(self, names: Iterable[str] = ()) -> list[Cause]:
        """Every cause found: ground truth, unclaimed addresses, the stacks' health checks, then `names`
        missing from DNS."""
        if not self.stacks:
            return []
        subjects, events = self._subjects(), self._events()
        causes = _event_causes(events, subjects) + self._addresses(subjects, events)
        causes += self._health_checks(subjects)
        causes += self._missing_records(names)
        return causes

    def _addresses(self, subjects: Subjects, events: Sequence[Event]) -> list[Cause]:
        """Elastic IPs of the stacks associated with nothing. Fatal once every instance's user data has ended
        (ground truth): nothing left on the stack will claim them."""
        causes = []
        for stack in self.stacks:
            addresses = stack.of_type("AWS::EC2::EIP")
            if not addresses:
                continue
            try:
                found = self.backend.client("ec2", region=stack.region or None).describe_addresses(
                    PublicIps=addresses)["Addresses"]
            except Exception as exc:  # noqa: BLE001
                log.debug("addresses %s unreadable: %s", addresses, exc)
                continue
            loose = [a for a in found if not a.get("AssociationId") and not a.get("InstanceId")]
            if not loose:
                continue
            ended = {e.subject: e for e in events if e.kind == USERDATA_EXIT and e.subject in subjects.instances}
            all_ended = bool(subjects.instances) and set(ended) >= set(subjects.instances)
            told = ", ".join(f"{e.subject} exited {e.detail.get('code')} after "
                             f"{float(e.detail.get('duration_s') or 0):.1f} s" for e in ended.values())
            for address in loose:
                what = (f"Elastic IP {address['PublicIp']} ({address.get('AllocationId', '?')}) is associated "
                        f"with nothing")
                causes.append(Cause(f"{what}, and every instance's user data has ended ({told})", fatal=True)
                              if all_ended else Cause(what))
        return causes

    def _events(self) -> list[Event]:
        try:
            return self.backend.ground_truth(0.0)
        except Exception as exc:  # noqa: BLE001 - a diagnosis enriches a failure; it never replaces it
            log.warning("ground truth unavailable for the diagnosis: %s", exc)
            return []

    def _subjects(self) -> Subjects:
        instances: dict[str, str] = {}
        functions: set[str] = set()
        checks: list[str] = []
        region_of: dict[str, str] = {}
        for stack in self.stacks:
            region = stack.region or self.backend.region
            groups = stack.of_type("AWS::AutoScaling::AutoScalingGroup")
            for group, members in _group_members(self.backend, region, groups).items():
                instances.update({i: group for i in members})
            instances.update({i: "" for i in stack.of_type("AWS::EC2::Instance")})
            functions.update(stack.of_type("AWS::Lambda::Function"))
            checks += stack.of_type("AWS::Route53::HealthCheck")
            region_of.update({k: region for k in [*instances, *functions, *checks]})
        return Subjects(instances, frozenset(functions), tuple(checks), region_of)

    def _health_checks(self, subjects: Subjects) -> list[Cause]:
        causes = []
        for check in subjects.health_checks:
            try:
                route53 = self.backend.client("route53")
                observations = route53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
                config = route53.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]
            except Exception as exc:  # noqa: BLE001 - one unreadable check must not hide the others
                log.debug("health check %s unreadable: %s", check, exc)
                continue
            failing = [o for o in observations if not str(o.get("StatusReport", {}).get("Status", "")).startswith(
                "Success")]
            if failing:
                said = failing[0].get("StatusReport", {}).get("Status", "no status")
                causes.append(Cause(f"Route 53 health check {check} ({_check_target(config)}): {len(failing)} of "
                                    f"{len(observations)} checkers say {said!r}"))
        return causes

    def _missing_records(self, names: Iterable[str]) -> list[Cause]:
        wanted = sorted({absolute(n) for n in names if n})
        if not wanted:
            return []
        try:
            zones = _hosted_zones(self.backend.client("route53"))
        except Exception as exc:  # noqa: BLE001
            log.debug("hosted zones unreadable: %s", exc)
            return []
        causes = []
        for listed in zones:  # a zone made by CloudFormation may be listed without its final dot
            listed["Name"] = absolute(listed["Name"])
        for name in wanted:
            zone = max((z for z in zones if name == z["Name"] or name.endswith("." + z["Name"])),
                       key=lambda z: len(z["Name"]), default=None)
            if zone is None:
                causes.append(Cause(f"no hosted zone holds {name}"))
                continue
            try:
                records = _record_names(self.backend.client("route53"), zone["Id"])
            except Exception as exc:  # noqa: BLE001
                log.debug("records of %s unreadable: %s", zone["Id"], exc)
                continue
            if name not in records:
                held = ", ".join(sorted(records - {zone["Name"]})[:6]) or "only its SOA and NS"
                kind = "private" if zone.get("Config", {}).get("PrivateZone") else "public"
                causes.append(Cause(f"no record {name} in the {kind} zone {zone['Name']} "
                                    f"({zone['Id'].rsplit('/', 1)[-1]}); it holds: {held}"))
        return causes


def _event_causes(events: Sequence[Event], subjects: Subjects) -> list[Cause]:
    """From localcloud's ground truth: bootstraps that failed, denied calls, Lambdas that failed, lifecycle
    actions nobody completed. Only subjects of these stacks, and for instances only the ones alive now."""
    causes: list[Cause] = []
    failed = [e for e in _last_per_subject(e for e in events if e.kind == USERDATA_EXIT
                                           and e.subject in subjects.instances)
              if e.detail.get("reason") in ("failed", "timeout")]
    told = {e.subject for e in failed}  # a failed bootstrap's own output already shows its denied call
    denied = [e for e in events if e.kind == IAM_DENIED and e.subject not in told
              and (e.subject in subjects.instances or e.subject in subjects.functions)]
    for event in failed:
        causes.append(Cause(_userdata_text(event, subjects.instances[event.subject]), fatal=True))
    for event in _last_per_subject(denied):
        causes.append(Cause(_denied_text(event)))
    for event in _last_per_subject(e for e in events if e.kind == LAMBDA_RESULT and e.subject in subjects.functions):
        if event.detail.get("error"):
            causes.append(Cause(_lambda_text(event)))
    completed = {str(e.detail.get("token")) for e in events if e.kind == LIFECYCLE_COMPLETE}
    done_by_timeout = {str(e.detail.get("token")): e for e in events if e.kind == LIFECYCLE_COMPLETE
                       and e.detail.get("by") not in (None, "api", "CompleteLifecycleAction")}
    for event in events:
        if event.kind != LIFECYCLE_WAIT or event.subject not in subjects.instances:
            continue
        token = str(event.detail.get("token"))
        if token not in completed:
            causes.append(Cause(f"{event.subject} waits on lifecycle hook {event.detail.get('hook')} "
                                f"({event.detail.get('transition')}): nothing has called CompleteLifecycleAction "
                                f"(the hook times out after {event.detail.get('timeout_s')} s)"))
        elif token in done_by_timeout:
            ended = done_by_timeout[token]
            causes.append(Cause(f"{event.subject}'s lifecycle hook {event.detail.get('hook')} ended by "
                                f"{ended.detail.get('by')} with {ended.detail.get('result')}: nothing called "
                                f"CompleteLifecycleAction"))
    return causes


def _userdata_text(event: Event, group: str) -> str:
    where = f"{event.subject}{f' (group {group})' if group else ''}"
    took = float(event.detail.get("duration_s") or 0.0)
    said = error_line(str(event.detail.get("tail", "")))
    if event.detail.get("reason") == "timeout":
        head = f"{where}: its user data did not finish (killed after {took:.0f} s)"
    else:
        head = f"{where}: its user data exited {event.detail.get('code')} after {took:.1f} s"
    return f"{head}; it printed: {said}" if said else f"{head} and printed nothing"


def _lambda_text(event: Event) -> str:
    said = error_line(str(event.detail.get("log", "")))
    return (f"Lambda {event.subject} failed ({event.detail.get('error')})"
            + (f": {said}" if said else ""))


def _denied_text(event: Event) -> str:
    d = event.detail
    message = d.get("message")
    if message:
        return _clip(f"{event.subject}: access denied: {message}")
    return _clip(f"{event.subject}: access denied: {d.get('principal', 'its role')} is not authorized to perform "
                 f"{d.get('action', '?')} on {d.get('resource', '?')} ({d.get('reason', 'no policy allows it')})")


def error_line(output: str) -> str:
    """The line of a console or log tail that says what went wrong: the last one with an error word in it,
    else the last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if any(word in lowered for word in ERROR_WORDS):
            return _clip(line)
    return _clip(lines[-1]) if lines else ""


def _clip(text: str) -> str:
    text = ENCODED.sub("", text)  # EC2's opaque blob for sts:DecodeAuthorizationMessage: no help in one line
    return text if len(text) <= MAX_LINE else text[:MAX_LINE - 1] + "…"


def _last_per_subject(events: Iterable[Event]) -> list[Event]:
    last: dict[str, Event] = {}
    for event in events:
        last[event.subject] = event
    return list(last.values())


def _group_members(backend: Backend, region: str, groups: Sequence[str]) -> dict[str, list[str]]:
    if not groups:
        return {}
    try:
        found = backend.client("autoscaling", region=region).describe_auto_scaling_groups(
            AutoScalingGroupNames=list(groups))["AutoScalingGroups"]
    except Exception as exc:  # noqa: BLE001
        log.debug("groups %s unreadable: %s", groups, exc)
        return {}
    return {g["AutoScalingGroupName"]: [i["InstanceId"] for i in g.get("Instances", [])
                                        if not str(i.get("LifecycleState", "")).startswith("Terminat")]
            for g in found}


def _hosted_zones(route53: Any) -> list[dict[str, Any]]:
    zones: list[dict[str, Any]] = []
    for page in route53.get_paginator("list_hosted_zones").paginate():
        zones += page["HostedZones"]
    return zones


def _record_names(route53: Any, zone_id: str) -> set[str]:
    names: set[str] = set()
    for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        names.update(absolute(r["Name"]) for r in page["ResourceRecordSets"])
    return names


def _check_target(config: dict[str, Any]) -> str:
    host = config.get("FullyQualifiedDomainName") or config.get("IPAddress") or "?"
    port = f":{config['Port']}" if config.get("Port") else ""
    return f"{config.get('Type', '?')} {host}{port}{config.get('ResourcePath', '')}"


def absolute(name: str) -> str:
    """A DNS name as a zone lists it: lower case, with the trailing dot."""
    return name.strip().rstrip(".").lower() + "."


def summarize(causes: Sequence[Cause], limit: int = 3) -> str:
    """The causes as one clause for a one-line message: fatal ones first."""
    texts = list(dict.fromkeys(c.text for c in sorted(causes, key=lambda c: not c.fatal)))
    more = len(texts) - limit
    return "; ".join(texts[:limit]) + (f" (and {more} more)" if more > 0 else "")
