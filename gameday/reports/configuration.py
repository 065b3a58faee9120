"""The configuration a scenario ran against, as the evidence report files it: per CloudFormation stack, the
SHA-256 of its template, its parameters as deployed, its health-check settings and its DNS TTLs.

Read from the template and parameters CloudFormation holds for the stack (not the repo's copy), `Ref`s to
parameters resolved; other intrinsics are shown as written (`!GetAtt Proxy.PublicIp`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gameday.stacks import DeployedStack

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")
# Per resource type, the properties that say how (and how fast) a failure is noticed.
HEALTH_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "AWS::Route53::HealthCheck": ("HealthCheckConfig",),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath", "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount", "Matcher"),
    "AWS::AutoScaling::AutoScalingGroup": ("HealthCheckType", "HealthCheckGracePeriod", "MinSize", "MaxSize",
                                           "DesiredCapacity"),
    "AWS::ECS::Service": ("HealthCheckGracePeriodSeconds", "DesiredCount"),
}


def template_sha256(template: Mapping[str, Any]) -> str:
    """SHA-256 of the template as canonical JSON (sorted keys, no spaces): the same for the same template,
    whether it was read back as YAML or JSON."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    """SHA-256 of the template file this run sent to CreateStack (what `sha256sum` prints); "" if it is gone."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def configuration(stacks: Iterable[DeployedStack]) -> list[dict[str, Any]]:
    """One entry per stack: what an auditor needs to tell which configuration produced the numbers."""
    return [stack_configuration(stack) for stack in stacks]


def stack_configuration(stack: DeployedStack) -> dict[str, Any]:
    resolve = _Resolver(stack.template, stack.parameters)
    return {
        "stack": stack.spec.stack_id, "part": stack.spec.part, "name": stack.name, "region": stack.region,
        "adopted": stack.adopted,
        "template": "" if stack.adopted else f"{stack.spec.template.parent.name}/{stack.spec.template.name}",
        "template_sha256": template_sha256(stack.template),
        "template_file_sha256": _file_sha256(stack.spec.template) if not stack.adopted else "",
        "parameters": dict(sorted(stack.parameters.items())),
        "health_checks": _health_checks(stack.template, resolve),
        "ttls": _ttls(stack.template, resolve),
    }


class _Resolver:
    """`Ref`s to parameters as deployed (else the default); every other intrinsic in its short form."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.declared = template.get("Parameters") or {}
        self.parameters = parameters

    def __call__(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, value), = node.items()
            if key == "Ref" and value in self.declared:
                return self.parameters.get(value, str(self.declared[value].get("Default", "(no value)")))
            if key == "Fn::Sub" and isinstance(value, str):
                return self._sub(value)
            if key == "Ref" or key.startswith("Fn::"):
                return _short(key, value)
        if isinstance(node, dict):
            return {k: self(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self(v) for v in node]
        return node

    def _sub(self, text: str) -> str:
        """`${Parameter}` filled in; anything else (`${AWS::Region}`, `${Resource}`) left as written."""
        resolved = PLACEHOLDER.sub(lambda m: str(self({"Ref": m[1]})) if m[1] in self.declared else m[0], text)
        return resolved if "${" not in resolved else f"!Sub {resolved}"


def _short(key: str, value: Any) -> str:
    name = "!Ref" if key == "Ref" else f"!{key.removeprefix('Fn::')}"
    if isinstance(value, list) and key == "Fn::GetAtt":
        return f"{name} {'.'.join(map(str, value))}"
    return f"{name} {value if isinstance(value, str) else json.dumps(value, default=str)}"


def _resources(template: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    for logical_id, body in (template.get("Resources") or {}).items():
        if isinstance(body, dict):
            yield logical_id, str(body.get("Type", "")), body.get("Properties") or {}


def _health_checks(template: Mapping[str, Any], resolve: _Resolver) -> list[dict[str, Any]]:
    rows = []
    for logical_id, kind, props in _resources(template):
        settings: dict[str, Any] = {}
        for key in HEALTH_SETTINGS.get(kind, ()):
            if key in props:
                value = resolve(props[key])
                settings.update(value if isinstance(value, dict) else {key: value})
        if kind == "AWS::CloudFront::Distribution":
            settings = _origin_failover(resolve(props.get("DistributionConfig") or {}))
        if settings:
            rows.append({"resource": logical_id, "type": kind, "settings": settings})
    return rows


def _origin_failover(config: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFront's health check is the origin group's failover criteria and its origins' connection limits."""
    settings: dict[str, Any] = {}
    groups = config.get("OriginGroups") or {}
    for group in groups.get("Items", []) if isinstance(groups, dict) else []:
        codes = (group.get("FailoverCriteria") or {}).get("StatusCodes") or {}
        settings[f"{group.get('Id', 'group')} fails over on"] = codes.get("Items", codes)
    for origin in config.get("Origins") or []:
        for key in ("ConnectionAttempts", "ConnectionTimeout"):
            if isinstance(origin, dict) and key in origin:
                settings[f"{origin.get('Id', 'origin')} {key}"] = origin[key]
    return settings


def _ttls(template: Mapping[str, Any], resolve: _Resolver) -> list[dict[str, Any]]:
    rows = []
    for logical_id, kind, props in _resources(template):
        if kind == "AWS::Route53::RecordSet":
            rows.append(_record(logical_id, resolve(props)))
        elif kind == "AWS::Route53::RecordSetGroup":
            rows += [_record(logical_id, resolve(r)) for r in props.get("RecordSets") or [] if isinstance(r, dict)]
        elif kind == "AWS::ServiceDiscovery::Service":
            records = ((props.get("DnsConfig") or {}).get("DnsRecords")) or []
            rows += [{"resource": logical_id, "name": "(Cloud Map service)", "type": str(resolve(r.get("Type"))),
                      "ttl": resolve(r.get("TTL"))} for r in records if isinstance(r, dict)]
    return rows


def _record(logical_id: str, props: Mapping[str, Any]) -> dict[str, Any]:
    routing = next((f"{key} {props[key]}" for key in ("Failover", "Weight", "Region", "MultiValueAnswer")
                    if key in props), "simple")
    ttl = props.get("TTL", "alias (the target's)" if "AliasTarget" in props else None)
    return {"resource": logical_id, "name": str(props.get("Name", "")), "type": str(props.get("Type", "")),
            "ttl": ttl, "routing": routing}
