"""One distribution's edge: cache, origin-group failover, connection attempts and timeouts.

Per request: a fresh cache hit is answered at once and never reaches an origin. On a miss the behavior's
target is fetched; for an origin group, a GET/HEAD/OPTIONS whose primary fails (a failover status code,
or no connection after `attempts` x `connect timeout`, or no response in the read timeout) goes to the
next member. No state is kept between requests (CloudFront's origin groups have none). Errors are cached
for the error-caching TTL. Each answer says which origin served it (`x-served-by`) and how
(`x-cache`, `x-localcloud-failover`); from a custom or VPC origin also the address the edge connected to
(`x-localcloud-origin-address`) and the origin's own `x-served-by` (`x-localcloud-origin-served-by`, an
instance id). A VPC origin's address comes from `locate_vpc` (its VPC's DNS); a name that does not
resolve there is a 502, as CloudFront answers a DNS failure, and fails over like a connection failure.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from localcloud.cloudfront.config import ALWAYS_CACHED_ERRORS, FAILOVER_METHODS, DistributionConfig, Origin
from localcloud.net.async_http import UpstreamError, UpstreamResponse, fetch
from localcloud.net.http import Request, Response, text
from localcloud.s3.dataplane import CALLER_SERVICE_HEADER, SOURCE_ARN_HEADER, region_of_endpoint
from localcloud.s3.policy import CLOUDFRONT_SERVICE

MAX_CACHE_ENTRIES = 10_000
Locate = Callable[[Origin], tuple[str, int] | None]  # origin -> (loopback address, port), None: no such host
LocateVpc = Callable[[Origin], Awaitable[tuple[str, int] | UpstreamError]]  # stage "dns" when it does not resolve
ORIGIN_ADDRESS_HEADER = "x-localcloud-origin-address"
ORIGIN_SERVED_BY_HEADER = "x-localcloud-origin-served-by"


@dataclass(frozen=True)
class _Cached:
    response: Response
    expires_mono: float
    origin_id: str


class Edge:
    """Loop thread only. `locate` turns an origin's domain name into a loopback address."""

    def __init__(self, config: DistributionConfig, domain_name: str, locate: Locate,
                 locate_vpc: LocateVpc | None = None) -> None:
        self.config = config
        self.domain_name = domain_name
        self._locate = locate
        self._locate_vpc = locate_vpc
        self._cache: dict[tuple[str, str], _Cached] = {}

    async def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/" and self.config.default_root_object:
            path = "/" + self.config.default_root_object
        behavior = self.config.behavior_for(path)
        if request.method not in behavior.methods:
            return self._answer(text(403, "method not allowed by the cache behavior\n"), "-", "Error")
        key = (request.method if request.method == "HEAD" else "GET", path)
        cached = self._cache.get(key) if request.method in ("GET", "HEAD") else None
        if cached is not None and cached.expires_mono > time.monotonic():
            hit = "Hit" if cached.response.status < 400 else "Error"
            return self._answer(cached.response, cached.origin_id, hit, cached=True)
        response, origin_id, trail = await self._from_origins(request.method, path, behavior.target)
        ttl = behavior.ttl_s if response.status < 400 else self._error_ttl(response.status)
        if ttl > 0 and request.method in ("GET", "HEAD"):
            if len(self._cache) >= MAX_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key] = _Cached(response, time.monotonic() + ttl, origin_id)
        return self._answer(response, origin_id, "Miss" if response.status < 400 else "Error", trail=trail)

    def _error_ttl(self, status: int) -> float:
        if status in self.config.error_ttl_s:
            return self.config.error_ttl_s[status]
        return self.config.default_error_ttl_s if status in ALWAYS_CACHED_ERRORS else 0.0

    async def _from_origins(self, method: str, path: str, target: str) -> tuple[Response, str, str]:
        members = self.config.members_of(target)
        group = self.config.groups.get(target)
        trail: list[str] = []
        last: tuple[Response, str] = (text(502, "no origin\n"), "-")
        for index, origin in enumerate(members):
            outcome = await self._fetch(origin, method, path)
            if isinstance(outcome, UpstreamError):
                trail.append(f"{origin.origin_id}:{outcome.stage}-failed")
                status = 502 if outcome.stage == "dns" else 504  # Bad Gateway (DNS) / Gateway Timeout
                last = (text(status, f"origin {origin.origin_id}: {outcome}\n"), origin.origin_id)
                failed = True
            else:
                last = (Response(outcome.status, outcome.body, content_type=outcome.headers.get(
                    "content-type", "application/octet-stream"), headers=_passed_headers(outcome)),
                    origin.origin_id)
                failed = group is not None and outcome.status in group.status_codes
                if failed:
                    trail.append(f"{origin.origin_id}:{outcome.status}")
            more = group is not None and index + 1 < len(members) and method in FAILOVER_METHODS
            if not (failed and more):
                break
        return last[0], last[1], ",".join(trail)

    async def _fetch(self, origin: Origin, method: str, path: str) -> UpstreamResponse | UpstreamError:
        located: tuple[str, int] | UpstreamError | None
        if origin.vpc_origin_id is not None:
            if self._locate_vpc is None:
                return UpstreamError("dns", f"VPC origin {origin.vpc_origin_id}: no VPC resolver")
            located = await self._locate_vpc(origin)
        else:
            located = self._locate(origin)
        if located is None:
            return UpstreamError("connect", f"{origin.domain_name} does not resolve")
        if isinstance(located, UpstreamError):
            return located
        address, port = located
        headers = {"Host": origin.domain_name, "User-Agent": "Amazon CloudFront",
                   "Via": f"1.1 {self.domain_name} (CloudFront)"}
        if origin.signed:
            headers[CALLER_SERVICE_HEADER] = CLOUDFRONT_SERVICE
            headers[SOURCE_ARN_HEADER] = self.config.arn
        error = UpstreamError("connect", "no attempt made")
        for _ in range(origin.attempts):
            try:
                answer = await fetch(address, port, method, origin.origin_path + path, headers,
                                     connect_timeout_s=origin.connect_timeout_s, read_timeout_s=origin.read_timeout_s)
            except UpstreamError as exc:
                error = exc
                if exc.stage == "read" and method not in ("GET", "HEAD"):
                    break  # only GET and HEAD are retried after a response timeout
                continue
            if origin.s3:
                return answer
            served_by = answer.headers.get("x-served-by")
            extra = {ORIGIN_ADDRESS_HEADER: address, **({ORIGIN_SERVED_BY_HEADER: served_by} if served_by else {})}
            return replace(answer, headers={**answer.headers, **extra})
        return error

    def _answer(self, response: Response, origin_id: str, cache: str, *, cached: bool = False,
                trail: str = "") -> Response:
        headers = [*response.headers, ("X-Cache", f"{cache} from cloudfront"), ("X-Served-By", origin_id),
                   ("X-Amz-Cf-Id", secrets.token_urlsafe(12)), ("Via", f"1.1 {self.domain_name} (CloudFront)")]
        if trail:
            headers.append(("X-Localcloud-Failover", trail))
        return Response(response.status, response.body, content_type=response.content_type, headers=tuple(headers))


def _passed_headers(upstream: UpstreamResponse) -> tuple[tuple[str, str], ...]:
    """The origin's headers a viewer gets, as CloudFront forwards them: an S3 object's user metadata
    (`x-amz-meta-*`), a redirect's Location and the origin's `Server` (`AmazonS3` for a bucket) included."""
    keep = ("etag", "last-modified", "location", "server", "x-amz-bucket-region", ORIGIN_ADDRESS_HEADER,
            ORIGIN_SERVED_BY_HEADER)
    return tuple((k, v) for k, v in upstream.headers.items() if k in keep or k.startswith("x-amz-meta-"))


def s3_region(origin: Origin) -> str | None:
    endpoint = region_of_endpoint(origin.domain_name)
    return endpoint[1] if endpoint is not None else None
