"""AWS's evaluation of identity-based policies, for one action on one resource in one request context.

The rules are AWS's (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements"):
an explicit Deny in any statement wins; otherwise some Allow must match; otherwise the request is
implicitly denied. A statement matches when its Action (or NotAction) covers the action, its Resource
(or NotResource) covers the resource, and every condition holds.

Why not moto's `IAMPolicyStatement`: it turns a failed condition into a Deny (so an Allow with a
condition that does not hold denies outright instead of simply not allowing), matches actions
case-sensitively, reads `?` and `.` as regex syntax, and knows one condition operator. The parts here
are small enough to get exactly right and test one by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

# A context value: absent keys are simply not in the mapping; a multivalued key is a tuple.
Context = Mapping[str, str | tuple[str, ...]]


class Effect(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


class UnsupportedCondition(ValueError):
    """A condition operator localcloud does not evaluate: the call is denied, naming it, rather than guessed."""


@dataclass(frozen=True)
class Decision:
    effect: Effect
    action: str
    resource: str
    reason: str = ""  # for a denial: why, in AWS's words when AWS has them

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


def statements(documents: Iterable[str | Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every statement of the given policy documents (JSON text or parsed), in order."""
    found: list[Mapping[str, Any]] = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        body = parsed.get("Statement", [])
        found.extend([body] if isinstance(body, Mapping) else body)
    return found


def evaluate(policy_statements: Sequence[Mapping[str, Any]], action: str, resource: str,
             context: Context) -> Decision:
    """AWS's decision for `action` on `resource`: explicit Deny, else Allow if one matches, else implicit Deny."""
    allowed = False
    for statement in policy_statements:
        try:
            matches = statement_matches(statement, action, resource, context)
        except UnsupportedCondition as exc:
            return Decision(Effect.IMPLICIT_DENY, action, resource, f"localcloud does not evaluate {exc}")
        if not matches:
            continue
        if str(statement.get("Effect", "")).lower() == "deny":
            return Decision(Effect.EXPLICIT_DENY, action, resource,
                            "with an explicit deny in an identity-based policy")
        allowed = True
    if allowed:
        return Decision(Effect.ALLOW, action, resource)
    return Decision(Effect.IMPLICIT_DENY, action, resource,
                    f"because no identity-based policy allows the {action} action")


def statement_matches(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if "NotAction" in statement:
        if any(action_matches(p, action) for p in _listed(statement["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in _listed(statement.get("Action", []))):
        return False
    if "NotResource" in statement:
        if any(resource_matches(p, resource) for p in _listed(statement["NotResource"])):
            return False
    elif not any(resource_matches(p, resource) for p in _listed(statement.get("Resource", []))):
        return False
    return conditions_hold(statement.get("Condition") or {}, context)


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively; `*` and `?` are wildcards."""
    return _glob(pattern.lower()).fullmatch(action.lower()) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """ARNs compare case-sensitively; `*` (any run, colons included) and `?` are wildcards."""
    return pattern == "*" or _glob(pattern).fullmatch(resource) is not None


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    """Every operator block holds; within one, every key holds (AND); a key's values are alternatives (OR)."""
    for operator, keys in conditions.items():
        for key, expected in keys.items():
            if not condition_holds(operator, key, _listed(expected), context):
                return False
    return True


def condition_holds(operator: str, key: str, expected: Sequence[Any], context: Context) -> bool:
    """One condition key under one operator. A missing key fails a positive operator, satisfies a negated
    one (`StringNotEquals`, `ArnNotLike`, …), and satisfies any operator with the `IfExists` suffix."""
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    actual = _lookup(context, key)
    if base == "Null":
        want_absent = [str(v).lower() for v in expected]
        return ("true" if actual is None else "false") in want_absent
    compare = _OPERATORS.get(base)
    if compare is None:
        raise UnsupportedCondition(f"the condition operator {operator}")
    negated = base in _NEGATED
    if actual is None:
        return if_exists or negated
    values = actual if isinstance(actual, tuple) else (actual,)
    hit = any(compare(str(want), value) for want in expected for value in values)
    return not hit if negated else hit


def _lookup(context: Context, key: str) -> str | tuple[str, ...] | None:
    """Condition key names are case-insensitive (tag keys included)."""
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            return value
    return None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _string_like(pattern: str, value: str) -> bool:
    return _glob(pattern).fullmatch(value) is not None


def _bool(expected: str, value: str) -> bool:
    return expected.lower() == value.lower()


_OPERATORS = {
    "StringEquals": lambda want, value: want == value,
    "StringNotEquals": lambda want, value: want == value,
    "StringEqualsIgnoreCase": lambda want, value: want.lower() == value.lower(),
    "StringNotEqualsIgnoreCase": lambda want, value: want.lower() == value.lower(),
    "StringLike": _string_like,
    "StringNotLike": _string_like,
    "ArnEquals": _string_like,  # AWS lets ArnEquals use wildcards too
    "ArnNotEquals": _string_like,
    "ArnLike": _string_like,
    "ArnNotLike": _string_like,
    "Bool": _bool,
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
