"""A denied call's answer, in the service's own error format, so the SDKs and the AWS CLI print what they print on AWS.

EC2 answers `UnauthorizedOperation` in its `<Response><Errors>` document; the query services
`AccessDenied` in `<ErrorResponse>` (SNS: `AuthorizationError`); Route 53 `AccessDenied` in its REST
XML; S3 `AccessDenied` in its `<Error>` document; the JSON services (Cloud Map, CloudWatch Logs, ECS,
Lambda) `AccessDeniedException` with `__type`. All with HTTP 403.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from localcloud.iam.credentials import Principal
from localcloud.iam.policy import Decision

EC2_PREFIX = "You are not authorized to perform this operation. "


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def denial_message(principal: Principal, decision: Decision, service: str) -> str:
    """AWS's words: "User: <session ARN> is not authorized to perform: <action> [on resource: <ARN>] <reason>"."""
    action = _shown_action(decision.action, service)
    reason = decision.reason.replace(decision.action, action)
    on = f" on resource: {decision.resource}" if decision.resource != "*" else ""
    return f"User: {principal.arn} is not authorized to perform: {action}{on} {reason}"


def _shown_action(action: str, service: str) -> str:
    """SNS writes its own prefix in capitals (`SNS:Publish`) in its messages."""
    return "SNS:" + action.partition(":")[2] if service == "sns" else action


def error_response(protocol: str, service: str, message: str) -> ErrorResponse:
    request_id = str(uuid.uuid4())
    if protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>UnauthorizedOperation</Code><Message>{escape(EC2_PREFIX + message)}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>")
        return _xml(body, request_id)
    if protocol in ("json", "rest-json"):
        document = {"__type": "AccessDeniedException", "Message": message}
        return ErrorResponse(403, [("Content-Type", "application/x-amz-json-1.1"),
                                   ("x-amzn-ErrorType", "AccessDeniedException"),
                                   ("x-amzn-RequestId", request_id)], json.dumps(document).encode())
    if service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>{uuid.uuid4().hex}</HostId></Error>")
        return _xml(body, request_id)
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return _xml(body, request_id)


def _xml(body: str, request_id: str) -> ErrorResponse:
    return ErrorResponse(403, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode())
