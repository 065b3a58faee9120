"""IAM in front of moto: a call signed with credentials localcloud issued to a role is evaluated against that role's
identity policies, read from moto's IAM backend at call time; a denied call answers as AWS does and is an event.

Calls signed with any other key (the suite's own, the operator's) pass untouched: localcloud enforces IAM
for what runs inside a stack, not for whoever deploys it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from localcloud.events import IAM_DENIED, EventLog
from localcloud.iam.credentials import CredentialRegistry, Principal
from localcloud.iam.errors import denial_message, error_response
from localcloud.iam.policy import Decision, Effect, evaluate, statements
from localcloud.iam.request import ApiCall, parse_call, signer_of
from localcloud.iam.resources import resources_of, tags_of

log = logging.getLogger(__name__)

ALWAYS_ALLOWED = {"sts:getcalleridentity"}  # AWS answers it whatever the policies say

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def authorize(call: ApiCall, principal: Principal) -> Decision:
    """The decision for every resource the call names: the first explicit Deny, else the first implicit one,
    else Allow."""
    action = call.action
    if action.lower() in ALWAYS_ALLOWED:
        return Decision(Effect.ALLOW, action, "*")
    if not call.operation:
        return Decision(Effect.IMPLICIT_DENY, f"{call.signer.service}:*", "*",
                        "because localcloud cannot tell which operation the request is")
    policy = statements(role_policies(principal))
    base = {"aws:RequestedRegion": call.signer.region, "aws:PrincipalArn": role_arn(principal),
            "aws:PrincipalAccount": principal.account}
    decisions = [evaluate(policy, action, arn, {**base, **_tag_keys(arn, principal.account)})
                 for arn in resources_of(call, principal.account)]
    for effect in (Effect.EXPLICIT_DENY, Effect.IMPLICIT_DENY):
        for decision in decisions:
            if decision.effect is effect:
                return decision
    return decisions[0]


def role_policies(principal: Principal) -> list[str | Mapping[str, Any]]:
    """The role's inline policies and the default version of each attached managed policy ([] if no such role)."""
    role = _role(principal)
    if role is None:
        return []
    documents: list[str | Mapping[str, Any]] = list(role.policies.values())
    for managed in list(role.managed_policies.values()):
        documents.extend(v.document for v in managed.versions if v.is_default)
    return documents


def role_arn(principal: Principal) -> str:
    role = _role(principal)
    return str(role.arn) if role is not None else f"arn:aws:iam::{principal.account}:role/{principal.role_name}"


def _role(principal: Principal) -> Any | None:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    try:
        return iam_backends[principal.account]["aws"].get_role(principal.role_name)
    except NotFoundException:
        return None


def _tag_keys(arn: str, account: str) -> dict[str, str]:
    """`aws:ResourceTag/<key>` and the service's own `<service>:ResourceTag/<key>` for each tag of the resource."""
    if arn == "*":
        return {}
    service = arn.split(":")[2]
    keys: dict[str, str] = {}
    for key, value in tags_of(arn, account).items():
        keys[f"aws:ResourceTag/{key}"] = value
        keys[f"{service}:ResourceTag/{key}"] = value
    return keys


class IamEnforcer:
    """WSGI middleware around moto's app."""

    def __init__(self, app: WsgiApp, registry: CredentialRegistry, events: EventLog) -> None:
        self._app = app
        self._registry = registry
        self._events = events

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        signer = signer_of(environ)
        principal = self._registry.principal(signer.access_key_id) if signer is not None else None
        if signer is None or principal is None:
            return self._app(environ, start_response)
        body = _read_body(environ)
        call = parse_call(environ, body, signer)
        try:
            decision = authorize(call, principal)
        except Exception:  # a bug here must not let a call through unevaluated, nor kill moto's thread
            log.exception("evaluating %s for %s failed", call.action, principal.arn)
            decision = Decision(Effect.IMPLICIT_DENY, call.action, "*", "because localcloud failed to evaluate it")
        if decision.allowed:
            return self._app(environ, start_response)
        return self._deny(call, principal, decision, start_response)

    def _deny(self, call: ApiCall, principal: Principal, decision: Decision,
              start_response: Callable[..., Any]) -> Iterable[bytes]:
        message = denial_message(principal, decision, call.signer.service)
        self._events.emit(IAM_DENIED, principal.session, principal=principal.arn, role=principal.role_name,
                          session=principal.session, action=decision.action, resource=decision.resource,
                          reason=decision.effect.value, message=message)
        answer = error_response(call.protocol, call.signer.service, message)
        start_response(f"{answer.status} Forbidden", [*answer.headers, ("Content-Length", str(len(answer.body)))])
        return [answer.body]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for moto (a chunked upload has no length: read to its end)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = str(environ.get("CONTENT_LENGTH") or "")
    if length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return bytes(body)
