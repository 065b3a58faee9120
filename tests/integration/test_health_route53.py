"""Route 53 health checks in a running LocalCloud: created through the API, probed for real, honoured by
weighted answers on the wire, and reported by GetHealthCheckStatus."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.query
import pytest

from localcloud.cloud import LocalCloud
from localcloud.route53.health import HEALTH_EVENT
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration


class _Node:
    def __init__(self, host: str) -> None:
        node = self
        self.status = 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(node.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.host, self.port = host, self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    profile = tiny_profile(tmp_path_factory.mktemp("profile"), route53__health_check__connect_timeout=0.5,
                           route53__health_check__response_timeout=0.5, route53__change_insync=0.05)
    with LocalCloud(profile) as running:
        yield running


def _answers(cloud: LocalCloud, name: str, tries: int = 40) -> set[str]:
    host, port = cloud.info()["dns"]["authoritative"]["host"], cloud.info()["dns"]["authoritative"]["port"]
    seen: set[str] = set()
    for _ in range(tries):
        reply = dns.query.udp(dns.message.make_query(name, "A"), host, port=port, timeout=2)
        seen |= {item.address for rrset in reply.answer for item in rrset}
    return seen


def test_weighted_answers_drop_an_unhealthy_node_and_fall_back_when_none_is_healthy(cloud: LocalCloud) -> None:
    nodes = [_Node(cloud.pool.allocate_service(f"hc-node-{i}")) for i in range(2)]
    r53 = cloud.client("route53")
    try:
        zone_id = r53.create_hosted_zone(Name="hc.gameday.test", CallerReference="hc")["HostedZone"]["Id"]
        changes = []
        for i, node in enumerate(nodes):
            hc = r53.create_health_check(CallerReference=f"hc-{i}", HealthCheckConfig={
                "Type": "HTTP", "IPAddress": node.host, "Port": node.port, "ResourcePath": "/health",
                "RequestInterval": 10, "FailureThreshold": 1})["HealthCheck"]["Id"]
            changes.append({"Action": "CREATE", "ResourceRecordSet": {
                "Name": "www.hc.gameday.test", "Type": "A", "SetIdentifier": f"n{i}", "Weight": 10, "TTL": 1,
                "HealthCheckId": hc, "ResourceRecords": [{"Value": node.host}]}})
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
        first_hc = changes[0]["ResourceRecordSet"]["HealthCheckId"]
        assert _wait(lambda: _answers(cloud, "www.hc.gameday.test") == {n.host for n in nodes})

        nodes[0].status = 503
        cloud.events.wait_for(HEALTH_EVENT, first_hc, timeout=30,
                              where=lambda e: e.detail["published"] and not e.detail["healthy"])
        assert _answers(cloud, "www.hc.gameday.test") == {nodes[1].host}
        status = r53.get_health_check_status(HealthCheckId=first_hc)["HealthCheckObservations"]
        assert len(status) == 15
        assert any("503" in o["StatusReport"]["Status"] for o in status)

        nodes[1].status = 503
        second_hc = changes[1]["ResourceRecordSet"]["HealthCheckId"]
        cloud.events.wait_for(HEALTH_EVENT, second_hc, timeout=30,
                              where=lambda e: e.detail["published"] and not e.detail["healthy"])
        assert _answers(cloud, "www.hc.gameday.test") == {n.host for n in nodes}  # none healthy: all count
    finally:
        for node in nodes:
            node.close()


def _wait(condition: Any, tries: int = 100) -> bool:
    for _ in range(tries):
        if condition():
            return True
        threading.Event().wait(0.05)
    return False
