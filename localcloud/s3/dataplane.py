"""Per-region S3 endpoints on loopback: GET/HEAD of objects in moto's buckets, bucket policy enforced.

Each region gets one address (`127.B.x.y:80`) the first time anyone asks for it. Requests are
virtual-hosted (`Host: <bucket>.s3.<region>.amazonaws.com`) or path-style (`/<bucket>/<key>`). A caller
that is CloudFront with origin access control says so in two headers (what SigV4 would prove on AWS):
`x-localcloud-caller-service` and `x-localcloud-source-arn`. `set_reachable(region, False)` black-holes
the region's address: connections hang, as to a region that is down.

A small control listener (`describe()["control"]`) takes `POST /regions/<region>/unreachable|reachable`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from localcloud.net.hosts import Host
from localcloud.net.http import HttpServerProtocol, Request, Response, text
from localcloud.net.listener import PortListener
from localcloud.s3.policy import Caller, allowed

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger(__name__)

S3_PORT = 80
REGION_EVENT = "localcloud.s3.region"
CALLER_SERVICE_HEADER = "x-localcloud-caller-service"
SOURCE_ARN_HEADER = "x-localcloud-source-arn"
_ENDPOINT = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?\.amazonaws\.com$")


def region_of_endpoint(host: str) -> tuple[str | None, str] | None:
    """`b.s3.us-west-2.amazonaws.com` -> ("b", "us-west-2"); `b.s3.amazonaws.com` -> ("b", "us-east-1");
    None if `host` is no S3 REST endpoint."""
    match = _ENDPOINT.match(host.lower().split(":", 1)[0].rstrip("."))
    if match is None:
        return None
    return match.group("bucket"), match.group("region") or "us-east-1"


def _error(status: int, code: str, message: str, region: str) -> Response:
    body = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(status, body.encode(), content_type="application/xml",
                    headers=(("x-amz-bucket-region", region), ("Server", "AmazonS3")))


class S3DataPlane:
    """A `Service` of LocalCloud. Region hosts live on the data-plane loop."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._hosts: dict[str, Host] = {}
        self._reachable: dict[str, bool] = {}
        self._control: PortListener | None = None
        self._control_address = ""

    # --- Service ---

    def start(self) -> None:
        from localcloud.cfn import resources, s3_policy

        assert s3_policy.BucketPolicy.cloudformation_type()  # imported: moto's template engine lists it now
        resources.register()
        self._control_address = self._cloud.pool.allocate_service("s3-control")
        self._cloud.loop.call(self._start_control)

    def stop(self) -> None:
        self._cloud.loop.call(self._close)

    def describe(self) -> dict[str, Any]:
        port = self._control.port if self._control is not None else 0
        return {"control": f"http://{self._control_address}:{port}",
                "regions": {r: {"address": h.address, "reachable": self._reachable.get(r, True)}
                            for r, h in sorted(self._hosts.items())}}

    # --- for CloudFront and the faults (any thread) ---

    def address_of(self, region: str) -> str:
        """The loopback address answering for S3 in `region` (created on first use)."""
        return self._cloud.loop.call(lambda: self._host(region).address)

    def set_reachable(self, region: str, reachable: bool) -> None:
        self._cloud.loop.call(self._set_reachable, region, reachable)

    # --- loop thread ---

    def _host(self, region: str) -> Host:
        host = self._hosts.get(region)
        if host is None:
            host = Host(asyncio.get_running_loop(), self._cloud.pool.allocate(f"s3:{region}"), (S3_PORT,))
            host.open()
            host.serve(S3_PORT, self._factory(region))
            self._hosts[region] = host
            self._reachable[region] = True
        return host

    def _set_reachable(self, region: str, reachable: bool) -> None:
        host = self._host(region)
        if self._reachable.get(region, True) == reachable:
            return
        if reachable:
            host.serve(S3_PORT, self._factory(region))
        else:
            host.blackhole_all()
        self._reachable[region] = reachable
        self._cloud.events.emit(REGION_EVENT, region, address=host.address, reachable=reachable)

    def _factory(self, region: str) -> Callable[[], HttpServerProtocol]:
        handler = _ObjectHandler(region, self._cloud.region)
        return lambda: HttpServerProtocol(handler)

    def _start_control(self) -> None:
        listener = PortListener(asyncio.get_running_loop(), self._control_address, 0)
        listener.open()
        listener.serve(lambda: HttpServerProtocol(self._control_request))
        self._control = listener

    def _control_request(self, request: Request) -> Response:
        match = re.fullmatch(r"/regions/([a-z0-9-]+)/(reachable|unreachable)", request.path)
        if request.method != "POST" or match is None:
            return text(404, "POST /regions/<region>/reachable|unreachable\n")
        self._set_reachable(match.group(1), match.group(2) == "reachable")
        return text(200, f"{match.group(1)} {match.group(2)}\n")

    def _close(self) -> None:
        for host in self._hosts.values():
            host.close()
        self._hosts.clear()
        if self._control is not None:
            self._control.close()
            self._control = None


class _ObjectHandler:
    """GET/HEAD one object from moto, as S3 in `region` answers it."""

    def __init__(self, region: str, default_region: str) -> None:
        self._region = region
        self._default_region = default_region

    def __call__(self, request: Request) -> Response:
        bucket_name, key = self._locate(request)
        region = self._region
        if request.method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", "The specified method is not allowed", region)
        if not bucket_name:
            return _error(400, "InvalidRequest", "No bucket in the request", region)
        bucket = _bucket(bucket_name)
        if bucket is None:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist", region)
        if bucket.region_name != region:
            return _error(301, "PermanentRedirect", "The bucket is in another region", bucket.region_name)
        caller = Caller(request.header(CALLER_SERVICE_HEADER) or None, request.header(SOURCE_ARN_HEADER) or None)
        partition = "aws"
        if not allowed(bucket.policy, "s3:GetObject", f"arn:{partition}:s3:::{bucket_name}/{key}", caller):
            return _error(403, "AccessDenied", "Access Denied", region)
        found = bucket.keys.get(key) if key else None
        if found is None:
            # Without s3:ListBucket, S3 says 403 for a missing key too (it will not reveal what exists).
            if allowed(bucket.policy, "s3:ListBucket", f"arn:{partition}:s3:::{bucket_name}", caller):
                return _error(404, "NoSuchKey", "The specified key does not exist.", region)
            return _error(403, "AccessDenied", "Access Denied", region)
        content_type = str(found.metadata.get("content-type") or "binary/octet-stream")
        user_metadata = tuple((str(k), str(v)) for k, v in found.metadata.items()
                              if str(k).lower().startswith("x-amz-meta-"))  # S3 returns it as headers
        return Response(200, bytes(found.value), content_type=content_type,
                        headers=(("ETag", found.etag), ("Last-Modified", formatdate(usegmt=True)),
                                 ("x-amz-bucket-region", region), ("Server", "AmazonS3"), *user_metadata))

    def _locate(self, request: Request) -> tuple[str | None, str]:
        endpoint = region_of_endpoint(request.header("host"))
        if endpoint is not None and endpoint[0]:
            return endpoint[0], request.path.lstrip("/")
        bucket, _, key = request.path.lstrip("/").partition("/")
        return bucket or None, key


def _bucket(name: str) -> Any | None:
    from moto.s3.models import s3_backends

    from localcloud.cloud import ACCOUNT_ID

    return s3_backends[ACCOUNT_ID]["aws"].buckets.get(name)
