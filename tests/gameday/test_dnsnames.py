"""Which resolver a name is asked of, and the error when a backend has none."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gameday.backends.base import Resolver
from gameday.dnsnames import lookup_server, resolve_name
from gameday.errors import DeployError

CACHING = Resolver("caching", "127.0.0.2", 53, "caching")
AUTHORITATIVE = Resolver("authoritative", "127.0.0.3", 5353, "authoritative")


@dataclass
class Resolvers:
    """Just enough backend: a name and its resolvers."""

    found: list[Resolver] = field(default_factory=list)
    name: str = "aws"

    def resolvers(self) -> list[Resolver]:
        return self.found


def test_the_authoritative_resolver_is_asked_first() -> None:
    assert lookup_server(Resolvers([CACHING, AUTHORITATIVE]), "d1.cloudfront.net") == AUTHORITATIVE  # type: ignore[arg-type]


def test_any_resolver_will_do_when_none_is_authoritative() -> None:
    assert lookup_server(Resolvers([CACHING]), "d1.cloudfront.net") == CACHING  # type: ignore[arg-type]


def test_no_resolver_is_a_clear_error_not_the_system_resolver() -> None:
    with pytest.raises(DeployError, match="no DNS resolver"):
        resolve_name(Resolvers([]), "d1.cloudfront.net")  # type: ignore[arg-type]
