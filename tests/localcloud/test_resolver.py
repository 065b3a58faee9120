"""The unbound wrapper: its config, its errors, and zones changed while it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from localcloud.resolver import CachingResolver, ResolverError, render_config
from localcloud.route53.dns import AuthoritativeDNS
from localcloud.route53.model import RecordSet, Zone

needs_unbound = pytest.mark.skipif(shutil.which("unbound") is None, reason="apt-get install unbound")


class FakeSource:
    def __init__(self, *zones: Zone) -> None:
        self.live = {z.id: z for z in zones}

    def zones(self) -> dict[str, Zone]:
        return dict(self.live)

    def zone(self, zone_id: str) -> Zone | None:
        return self.live.get(zone_id)


def test_config_resolves_only_our_zones_honours_ttls_and_stays_on_loopback(tmp_path: Path) -> None:
    text = render_config(tmp_path, "127.0.0.1", 5300, {"example.com.": ("127.0.0.1", 5301)}, ("127.0.0.1", 5301))
    lines = {line.strip() for line in text.splitlines()}

    assert {'local-zone: "." refuse', 'local-zone: "example.com." transparent', 'name: "example.com."',
            "stub-addr: 127.0.0.1@5301", 'name: "."', "do-not-query-localhost: no",
            "outgoing-interface: 127.0.0.1", 'target-fetch-policy: "0 0 0 0 0"'} <= lines
    assert {"cache-min-ttl: 0", "serve-expired: no", "prefetch: no"} <= lines
    assert {'chroot: ""', 'username: ""', f'pidfile: "{tmp_path / "unbound.pid"}"'} <= lines
    assert not any(line.startswith("root-hints") for line in lines)  # the "." stub replaces them


def test_missing_unbound_is_one_line_saying_how_to_install_it() -> None:
    with pytest.raises(ResolverError, match="apt-get install unbound"):
        CachingResolver(unbound="unbound-that-does-not-exist").start()


def test_only_loopback_is_accepted() -> None:
    with pytest.raises(ValueError):
        CachingResolver(host="192.0.2.1")
    with pytest.raises(ValueError):
        CachingResolver({"example.com": ("192.0.2.53", 53)})


@needs_unbound
def test_zone_added_and_removed_while_running() -> None:
    zone = Zone.build("Z1", "example.com", records=[
        RecordSet("example.com.", "SOA", 900, ("ns.example.com. hostmaster.example.com. 1 7200 900 1209600 60",)),
        RecordSet("www.example.com.", "A", 30, ("127.0.0.1",))])
    server = AuthoritativeDNS(source=FakeSource(zone))
    resolver = CachingResolver()
    server.start()
    try:
        resolver.start()
        ask = lambda: dns.query.udp(dns.message.make_query("www.example.com", "A"),  # noqa: E731
                                    *resolver.address[:1], port=resolver.address[1], timeout=3)
        before = ask().rcode()
        resolver.add_zone("example.com", server.address)
        during = ask()
        resolver.remove_zone("example.com.")
        after = ask().rcode()
        workdir = resolver.workdir
    finally:
        resolver.stop()
        server.stop()

    assert before == dns.rcode.REFUSED and after == dns.rcode.REFUSED
    assert [r.to_text() for r in during.answer[0]] == ["127.0.0.1"]
    assert workdir is not None and not workdir.exists() and not resolver.running
