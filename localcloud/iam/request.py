"""What an API request asks, read from the HTTP request as AWS reads it: who signed it, which operation, what it names.

The signer is the access key in the SigV4 credential (the `Authorization` header, or `X-Amz-Credential`
in a presigned URL); its scope gives the region and the service's signing name. The operation comes
from the protocol: `Action=` (EC2 and the query services), `X-Amz-Target` (JSON services), or, for
REST services (Route 53, S3, Lambda), the method and path matched against botocore's own description
of each operation's URI, so the two cannot disagree about which operation a request is.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

# The IAM action prefix where it differs from the SigV4 signing name.
_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
# Operations whose IAM action has another name (S3's, and Lambda's Invoke).
_IAM_ACTION = {
    "lambda": {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeFunction"},
    "s3": {"HeadObject": "GetObject", "HeadBucket": "ListBucket", "ListObjects": "ListBucket",
           "ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions", "DeleteObjects": "DeleteObject",
           "CopyObject": "PutObject", "ListBuckets": "ListAllMyBuckets", "ListMultipartUploads":
           "ListBucketMultipartUploads", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
           "CompleteMultipartUpload": "PutObject",
           "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
           "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
           "PutBucketReplication": "PutReplicationConfiguration",
           "GetBucketReplication": "GetReplicationConfiguration"},
}


@dataclass(frozen=True)
class Signer:
    access_key_id: str
    region: str
    service: str  # the signing name in the credential scope (ec2, route53, servicediscovery, …)


@dataclass(frozen=True)
class ApiCall:
    signer: Signer
    operation: str  # the API's operation name (AssociateAddress), "" when it cannot be told
    protocol: str  # "ec2" | "query" | "json" | "rest-xml" | "rest-json": how an error must be written
    params: Mapping[str, Any] = field(default_factory=dict)  # query/form params, JSON body, URI labels by member

    @property
    def action(self) -> str:
        service = self.signer.service
        name = _IAM_ACTION.get(service, {}).get(self.operation, self.operation)
        return f"{_IAM_PREFIX.get(service, service)}:{name}"


def signer_of(environ: Mapping[str, Any]) -> Signer | None:
    """The SigV4 signer of a WSGI request, or None when it is not signed with SigV4."""
    credential = ""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    if "Credential=" in auth:
        credential = auth.partition("Credential=")[2].partition(",")[0].strip()
    else:
        query = dict(parse_qsl(str(environ.get("QUERY_STRING", ""))))
        credential = query.get("X-Amz-Credential", "")
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0]:
        return None
    return Signer(parts[0], parts[2], parts[3])


def parse_call(environ: Mapping[str, Any], body: bytes, signer: Signer) -> ApiCall:
    """The operation and parameters of a request; operation "" when neither protocol nor model names one."""
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return ApiCall(signer, target.rpartition(".")[2], "json", _json_object(body))
    form = dict(query)
    if "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if "Action" in form:
        return ApiCall(signer, form["Action"], "ec2" if signer.service == "ec2" else "query", form)
    return _rest_call(signer, str(environ.get("REQUEST_METHOD", "GET")), str(environ.get("PATH_INFO", "/")), query)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    path: re.Pattern[str]
    labels: Mapping[str, str]  # URI label -> input member
    query: Mapping[str, str | None]  # query keys the URI requires (value None: any value)
    query_members: Mapping[str, str]  # query key -> input member
    literal: int  # literal characters in the path: the more, the more specific


def _rest_call(signer: Signer, method: str, path: str, query: Mapping[str, str]) -> ApiCall:
    """What a REST request names is in its URI and query (the body is the payload: an object, an event)."""
    routes, protocol = _routes(signer.service)
    best: tuple[tuple[int, int], _Route, re.Match[str]] | None = None
    for route in routes:
        if route.method != method:
            continue
        matched = route.path.fullmatch(path.rstrip("/") or "/")
        if matched is None or any(k not in query or (v is not None and query[k] != v) for k, v in route.query.items()):
            continue
        rank = (len(route.query), route.literal)
        if best is None or rank > best[0]:
            best = (rank, route, matched)
    if best is None:
        return ApiCall(signer, "", protocol)
    _, route, matched = best
    params: dict[str, Any] = {member: query[key] for key, member in route.query_members.items() if key in query}
    params.update({route.labels[label]: value for label, value in matched.groupdict().items()})
    return ApiCall(signer, route.operation, protocol, params)


_routes_lock = threading.Lock()
_routes_by_service: dict[str, tuple[tuple[_Route, ...], str]] = {}


def _routes(service: str) -> tuple[tuple[_Route, ...], str]:
    """A REST service's operations as routes, and its protocol; built once per service from botocore's model."""
    with _routes_lock:  # moto serves each request on its own thread; botocore's loader is not thread-safe
        if service not in _routes_by_service:
            _routes_by_service[service] = _load_routes(service)
        return _routes_by_service[service]


def _load_routes(service: str) -> tuple[tuple[_Route, ...], str]:
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # no model by this name: no operation can be told
        return (), "rest-xml"
    routes = tuple(_route(name, model.operation_model(name)) for name in model.operation_names)
    return routes, "rest-json" if model.protocol == "rest-json" else "rest-xml"


def _route(name: str, operation: Any) -> _Route:
    uri, _, fixed_query = str(operation.http.get("requestUri", "/")).partition("?")
    members = operation.input_shape.members if operation.input_shape is not None else {}
    labels: dict[str, str] = {}
    query_members: dict[str, str] = {}
    for member, shape in members.items():
        location = shape.serialization.get("location")
        located = shape.serialization.get("name", member)
        if location == "uri":
            labels[_label(located)] = member
        elif location == "querystring":
            query_members[located] = member
    pattern, literal = "", 0
    for token in re.split(r"(\{[^}]+\})", uri.rstrip("/") or "/"):
        if token.startswith("{"):
            greedy = token.endswith("+}")
            label = token.strip("{}+")
            pattern += f"(?P<{_label(label)}>{'.+' if greedy else '[^/]+'})"
        else:
            pattern += re.escape(token)
            literal += len(token)
    fixed = dict(parse_qsl(fixed_query, keep_blank_values=True))
    return _Route(name, str(operation.http.get("method", "GET")), re.compile(pattern), labels,
                  {k: (v or None) for k, v in fixed.items()}, query_members, literal)


def _label(name: str) -> str:
    """A URI label as a regex group name (labels are identifiers already; keep them so)."""
    return re.sub(r"\W", "_", name)
