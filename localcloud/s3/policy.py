"""Bucket-policy evaluation for the S3 data plane: explicit deny wins, then an allow, else denied.

Covers what the reference stacks write: Effect, Principal ("*", {"AWS": "*"}, {"Service": ...}),
Action/NotAction and Resource/NotResource with wildcards, and StringEquals/ArnLike/ArnEquals/StringLike
conditions on AWS:SourceArn (CloudFront origin access control). Anything else in a condition makes the
statement not apply, which for an Allow means no access (the safe reading).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"
_CONDITION_OPERATORS = {"StringEquals", "ArnEquals", "ArnLike", "StringLike"}


@dataclass(frozen=True)
class Caller:
    """Who is asking: anonymous, or a service principal acting for a source ARN (CloudFront with OAC)."""

    service: str | None = None
    source_arn: str | None = None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if "*" in _listed(principal.get("AWS", [])):
        return True
    return caller.service is not None and caller.service in _listed(principal.get("Service", []))


def _any_match(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, str(p)) for p in _listed(patterns))


def _conditions_hold(conditions: Any, caller: Caller) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, Mapping):
        return False
    for operator, tests in conditions.items():
        if operator not in _CONDITION_OPERATORS or not isinstance(tests, Mapping):
            return False
        for key, wanted in tests.items():
            if key.lower() != "aws:sourcearn" or caller.source_arn is None:
                return False
            if operator in ("StringEquals", "ArnEquals"):
                if caller.source_arn not in [str(w) for w in _listed(wanted)]:
                    return False
            elif not _any_match(wanted, caller.source_arn):
                return False
    return True


def _applies(statement: Mapping[str, Any], action: str, resource: str, caller: Caller) -> bool:
    if "Action" in statement and not _any_match(statement["Action"], action):
        return False
    if "NotAction" in statement and _any_match(statement["NotAction"], action):
        return False
    if "Resource" in statement and not _any_match(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _any_match(statement["NotResource"], resource):
        return False
    return _principal_matches(statement.get("Principal"), caller) and \
        _conditions_hold(statement.get("Condition"), caller)


def allowed(policy: bytes | str | None, action: str, resource: str, caller: Caller) -> bool:
    """Whether `caller` may do `action` on `resource` under the bucket policy (no policy: nobody may)."""
    if not policy:
        return False
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = [s for s in _listed(document.get("Statement", [])) if isinstance(s, Mapping)]
    matching = [s for s in statements if _applies(s, action, resource, caller)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)
