"""Instances on localcloud: lifecycle with profile delays, their own address, app server, IMDSv2, termination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud import LocalCloud
from tests.localcloud.support import TINY_DELAYS, connect_outcome, http_get, tiny_profile

pytestmark = pytest.mark.integration
SLACK = 0.05  # timer and clock granularity


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=7) as running:
        yield running


@pytest.fixture(scope="module")
def booted(cloud: LocalCloud) -> dict[str, Any]:
    """One instance, launched and booted; the run_instances answer as the API gave it."""
    ec2 = cloud.client("ec2")
    answer = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    cloud.events.wait_for("localcloud.instance.booted", answer["InstanceId"], timeout=30)
    return answer


def imds(cloud: LocalCloud, address: str, path: str, token: str | None) -> tuple[int, bytes]:
    headers = {"X-aws-ec2-metadata-token": token} if token else {}
    status, _, body = http_get(address, path, port=8169, headers=headers)
    return status, body


def imds_token(address: str) -> str:
    status, _, body = http_get(address, "/latest/api/token", port=8169, method="PUT",
                               headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    return body.decode()


def test_an_instance_is_pending_then_running_then_booted_after_the_profile_delays(
        cloud: LocalCloud, booted: dict[str, Any]) -> None:
    iid = booted["InstanceId"]
    pending, running, up = (cloud.events.find(f"localcloud.instance.{k}", iid)[0]
                            for k in ("pending", "running", "booted"))
    described = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    assert booted["State"]["Name"] == "pending"
    assert described["State"]["Name"] == "running"
    assert pending.seq < running.seq < up.seq
    assert running.at - pending.at >= TINY_DELAYS["ec2.pending_to_running"] - SLACK
    assert up.at - running.at >= TINY_DELAYS["ec2.boot"] - SLACK


def test_the_private_address_is_a_loopback_address_of_this_cloud(cloud: LocalCloud, booted: dict[str, Any]) -> None:
    address = booted["PrivateIpAddress"]

    assert address in cloud.pool and not address.startswith("127.0.")
    assert cloud.events.find("localcloud.instance.pending", booted["InstanceId"])[0].detail["address"] == address
    public = booted.get("PublicIpAddress")
    assert public is None or (public in cloud.pool and not public.startswith("54.214."))


def test_the_booted_instance_serves_its_app_with_keepalive(booted: dict[str, Any]) -> None:
    import http.client

    conn = http.client.HTTPConnection(booted["PrivateIpAddress"], 80, timeout=2)
    try:
        answers = []
        for path in ("/", "/health", "/"):
            conn.request("GET", path)
            response = conn.getresponse()
            answers.append((response.status, response.getheader("X-Served-By"), response.read()))
    finally:
        conn.close()

    iid = booted["InstanceId"]
    assert answers == [(200, iid, f"hello from {iid}\n".encode()), (200, iid, b"ok\n"),
                       (200, iid, f"hello from {iid}\n".encode())]


def test_imds_requires_a_token_and_answers_with_moto_state(cloud: LocalCloud, booted: dict[str, Any]) -> None:
    address = booted["PrivateIpAddress"]
    token = imds_token(address)

    assert imds(cloud, address, "/latest/meta-data/instance-id", None)[0] == 401
    assert imds(cloud, address, "/latest/meta-data/instance-id", token) == (200, booted["InstanceId"].encode())
    assert imds(cloud, address, "/latest/meta-data/local-ipv4", token) == (200, address.encode())
    assert imds(cloud, address, "/latest/meta-data/placement/region", token) == (200, b"us-east-1")
    document = json.loads(imds(cloud, address, "/latest/dynamic/instance-identity/document", token)[1])
    assert document["instanceId"] == booted["InstanceId"]


def test_a_terminated_instance_black_holes_its_address(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    address = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    served = http_get(address)[0]

    ec2.terminate_instances(InstanceIds=[iid])
    cloud.events.wait_for("localcloud.instance.terminated", iid, timeout=5)

    assert served == 200
    assert connect_outcome(address, 80) == "hangs"
    assert connect_outcome(address, 8169) == "hangs"


def test_a_stopped_instance_black_holes_and_boots_again_on_start(cloud: LocalCloud) -> None:
    ec2 = cloud.client("ec2")
    iid = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    address = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]

    ec2.stop_instances(InstanceIds=[iid])
    cloud.events.wait_for("localcloud.instance.stopped", iid, timeout=5)
    while_stopped = connect_outcome(address)
    mark = len(cloud.events)
    started = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    cloud.events.wait_for("localcloud.instance.booted", iid, since=mark, timeout=30)

    assert while_stopped == "hangs"
    assert started["CurrentState"]["Name"] in ("pending", "running")
    assert http_get(address)[1]["x-served-by"] == iid
