"""localcloud: a hung app on a running instance (the control API's port faults) and custom health
(SetInstanceHealth Unhealthy makes the group replace a running member)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from localcloud import LocalCloud
from localcloud.ec2 import processes
from localcloud.ec2.instances import APP_PORT_EVENT, OWNER_USER_DATA
from tests.localcloud.support import http_get, tiny_profile

pytestmark = pytest.mark.integration
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=5, services=[]) as running:
        yield running


def control(cloud: LocalCloud, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(cloud.control_url + path, data=b"", method="POST")
    try:
        with _NO_PROXY.open(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def booted(cloud: LocalCloud, instance_id: str, timeout_s: float = 10.0) -> str:
    """The instance's address once its app answers."""
    deadline = time.monotonic() + timeout_s
    ec2 = cloud.client("ec2")
    address = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    while time.monotonic() < deadline:
        try:
            if http_get(address, "/health", timeout=0.5)[0] == 200:
                return str(address)
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never served")


def answers_within(address: str, seconds: float) -> bool:
    try:
        return http_get(address, "/health", timeout=seconds)[0] == 200
    except TimeoutError:
        return False


def test_a_hung_builtin_app_keeps_its_port_answers_nothing_and_answers_again_when_resumed(cloud: LocalCloud) -> None:
    instance = cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    iid = instance["InstanceId"]
    address = booted(cloud, iid)
    kept = socket.create_connection((address, 80), timeout=2)  # an open keep-alive connection hangs too

    status, body = control(cloud, f"/instances/{iid}/ports/80/hang")
    assert status == 200 and json.loads(body)["owner"] == "localcloud"
    assert not answers_within(address, 0.5)  # connected (not refused), but no answer
    kept.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    kept.settimeout(0.3)
    with pytest.raises(TimeoutError):
        kept.recv(100)
    assert cloud.client("ec2").describe_instance_status(InstanceIds=[iid])["InstanceStatuses"][0][
        "InstanceState"]["Name"] == "running"

    assert control(cloud, f"/instances/{iid}/ports/80/resume")[0] == 200
    kept.settimeout(2)
    assert kept.recv(100).startswith(b"HTTP/1.1 200")  # what waited is answered
    kept.close()
    assert answers_within(address, 2.0)
    assert control(cloud, f"/instances/{iid}/ports/80/kill")[0] == 400  # the built-in app has no process

    cloud.client("ec2").terminate_instances(InstanceIds=[iid])
    status, body = control(cloud, f"/instances/{iid}/ports/80/resume")  # a revert after the instance went
    assert status == 200 and json.loads(body)["owner"] is None
    assert control(cloud, f"/instances/{iid}/ports/80/hang")[0] == 404


SERVER = """#!/bin/bash
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}
TOKEN=$(curl -sf -X PUT "${IMDS}latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
LOCAL_IPV4=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "${IMDS}latest/meta-data/local-ipv4")
echo ok > health
nohup python3 -m http.server 80 --bind "$LOCAL_IPV4" > http.log 2>&1 &
"""


def test_a_user_data_server_is_stopped_resumed_and_killed_through_its_port(cloud: LocalCloud) -> None:
    iid = cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                            UserData=SERVER)["Instances"][0]["InstanceId"]
    assert cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=60).detail["owner"] == OWNER_USER_DATA
    address = booted(cloud, iid)
    status, body = control(cloud, f"/instances/{iid}/ports/80/hang")
    done = json.loads(body)
    assert status == 200 and done["owner"] == "process" and done["pids"], body
    assert not answers_within(address, 0.5)  # SIGSTOP keeps the socket: connected, never answered
    assert control(cloud, f"/instances/{iid}/ports/80/resume")[0] == 200
    assert answers_within(address, 2.0)
    assert control(cloud, f"/instances/{iid}/ports/80/kill")[0] == 200
    deadline = time.monotonic() + 5
    while processes.listening(address, 80) and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ConnectionRefusedError):  # the process is gone: its port refuses, as on EC2
        socket.create_connection((address, 80), timeout=2).close()
    assert control(cloud, f"/instances/{iid}/ports/80/hang")[0] == 409  # nothing listens any more


def test_set_instance_health_unhealthy_makes_the_group_replace_a_running_member(cloud: LocalCloud) -> None:
    ec2, asg = cloud.client("ec2"), cloud.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    ec2.create_launch_template(LaunchTemplateName="health", LaunchTemplateData={"ImageId": "ami-12345678",
                                                                                "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="health", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                  VPCZoneIdentifier=subnet,
                                  LaunchTemplate={"LaunchTemplateName": "health", "Version": "$Latest"})
    first = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["health"])["AutoScalingGroups"][0][
        "Instances"][0]["InstanceId"]
    booted(cloud, first)
    asg.set_instance_health(InstanceId=first, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    deadline = time.monotonic() + 10
    members: list[str] = [first]
    # Terminated first, then replaced (as AWS does for an unhealthy member): the group may be empty in between.
    while time.monotonic() < deadline and (first in members or len(members) != 1):
        time.sleep(0.05)
        members = [i["InstanceId"] for i in asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["health"])["AutoScalingGroups"][0]["Instances"]]
    assert first not in members and len(members) == 1
    state = ec2.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    unhealthy = [e for e in cloud.events.since(0, 10_000)[0] if e.kind == "localcloud.asg.unhealthy"
                 and e.subject == first]
    assert unhealthy and "SetInstanceHealth" in unhealthy[0].detail["reason"]
