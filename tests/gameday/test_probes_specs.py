"""Probe specs refuse bad input up front, with one line that says what is wrong."""

from __future__ import annotations

import math

import pytest

from gameday.errors import ConfigError
from gameday.probes import DnsProbe, HealthProbe, HttpProbe, TcpProbe
from gameday.probes.specs import parse_http_url


@pytest.mark.parametrize("url", ["127.0.0.1/", "ftp://127.0.0.1/", "http://", "http://:80/",
                                 "http://127.0.0.1:99999/", "http://127.0.0.1:port/", "http://a b/"])
def test_malformed_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="malformed URL"):
        HttpProbe("http:x", url, rate_hz=10)


@pytest.mark.parametrize("rate", [0, -1, 201, math.nan, math.inf])
def test_rate_must_be_positive_and_at_most_200_hz(rate: float) -> None:
    with pytest.raises(ConfigError, match="rate must be"):
        TcpProbe("tcp:x", "127.0.0.1", 80, rate_hz=rate)


def test_unknown_record_type() -> None:
    with pytest.raises(ConfigError, match="unknown record type 'AAAAA'"):
        DnsProbe("dns:x", "app.example.", "AAAAA", server=("127.0.0.1", 53), rate_hz=5)


@pytest.mark.parametrize("server", [("ns.example.", 53), ("127.0.0.1", 0), ("127.0.0.1", 70000)])
def test_dns_server_must_be_an_address_and_a_port(server: tuple[str, int]) -> None:
    with pytest.raises(ConfigError):
        DnsProbe("dns:x", "app.example.", server=server, rate_hz=5)


def test_names_without_spaces_and_sane_timeouts() -> None:
    with pytest.raises(ConfigError, match="probe name"):
        HealthProbe("health check", "http://127.0.0.1:9000/", rate_hz=5)
    with pytest.raises(ConfigError, match="timeout must be"):
        HealthProbe("health", "http://127.0.0.1:9000/", rate_hz=5, timeout_s=0)


def test_kinds_and_targets() -> None:
    assert HttpProbe("a", "http://127.0.0.1:8080/x?y=1", 10).kind == "http"
    assert HttpProbe("a", "http://127.0.0.1/", 10, keepalive=True).kind == "http_keepalive"
    assert HealthProbe("a", "http://127.0.0.1/", 10).kind == "health"
    dns = DnsProbe("d", "app.example.", "aaaa", server=("::1", 5353), rate_hz=10)
    assert (dns.kind, dns.target) == ("dns", "app.example./AAAA@[::1]:5353")
    assert TcpProbe("t", "::1", 443, 10).target == "[::1]:443"


def test_parsed_url_keeps_path_query_and_host_header() -> None:
    target = parse_http_url("https://[::1]:8443/health?full=1")
    assert (target.host, target.port, target.path, target.host_header, target.tls) == (
        "::1", 8443, "/health?full=1", "[::1]:8443", True)
    assert parse_http_url("http://example.test").path == "/"


@pytest.mark.parametrize(("fields", "message"), [
    ({"follow_redirects": 6}, "follow_redirects must be 0-5 hops, got 6"),
    ({"follow_redirects": -1}, "follow_redirects must be 0-5 hops"),
    ({"follow_redirects": True}, "follow_redirects must be 0-5 hops"),
    ({"follow_redirects": 1, "expect_location": "https://www.example.com/"}, "exclude each other"),
    ({"expect_location": "/login"}, "expect_location must be an absolute http\\(s\\) URL prefix, got '/login'"),
    ({"expect_identity": ("i-", "")}, "expected identities must be non-empty prefixes"),
    ({"expect_identity": ""}, "expected identities must be non-empty prefixes"),
])
def test_redirect_and_identity_expectations_are_checked_up_front(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HttpProbe("http:x", "http://127.0.0.1/", 10, **fields)  # type: ignore[arg-type]


def test_expected_identities_are_always_a_tuple() -> None:
    assert HttpProbe("http:x", "http://127.0.0.1/", 10).expected_identities is None
    assert HttpProbe("http:x", "http://127.0.0.1/", 10, expect_identity="i-").expected_identities == ("i-",)
    assert HttpProbe("http:x", "http://127.0.0.1/", 10,
                     expect_identity=("primary/", "replica/")).expected_identities == ("primary/", "replica/")
