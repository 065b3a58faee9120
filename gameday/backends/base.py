"""The `Backend` seam: boto3 clients, resolvers to query, and (localcloud only) ground truth and control API."""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

from gameday.timeline import Event


@dataclass(frozen=True)
class Resolver:
    """A DNS server a probe can ask directly."""

    name: str  # e.g. "authoritative", "caching", "vpc-0abc" (a VPC's own server)
    host: str
    port: int
    kind: str  # "authoritative" | "caching" | "vpc" (answers a VPC's private zones, reachable inside it)


def public_resolvers(resolvers: list[Resolver]) -> list[Resolver]:
    """The resolvers a client outside any VPC asks: the authoritative view and the caching ones."""
    return [r for r in resolvers if r.kind in ("authoritative", "caching")]


class LocalcloudControl(Protocol):
    """localcloud's control API (`/info`, `/console/<id>`, `/spot/...`): a capability AWS does not have."""

    def __call__(self, path: str, *, method: str = "GET") -> bytes: ...


class Backend(Protocol):
    name: str  # "localcloud" | "aws"
    profile: str  # the time profile the numbers are judged against ("fast", "realistic")
    region: str

    @property
    def endpoint_url(self) -> str | None:
        """Where the API answers when it is not AWS itself (localcloud, or --endpoint-url); None: AWS."""

    @property
    def control(self) -> LocalcloudControl | None:
        """localcloud's control API; None on AWS (what only it can tell, e.g. a VPC's own DNS server)."""

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client talking to this backend exactly as to AWS."""

    def resolvers(self) -> list[Resolver]:
        """DNS servers worth probing: the zones' authoritative server(s) and a caching resolver."""

    def ground_truth(self, since: float = 0.0) -> list[Event]:
        """What the backend knows really happened (localcloud only; AWS returns [])."""

    def close(self) -> None:
        """Stop everything the backend started. Idempotent."""


def is_loopback(url: str | None) -> bool:
    """Whether an endpoint URL is on this machine (localcloud, moto): a stand-in, not AWS itself."""
    host = urllib.parse.urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
