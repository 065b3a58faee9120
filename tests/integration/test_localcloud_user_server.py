"""A server the user data starts gets the instance's port (80, or any other), not localcloud's built-in app:
at the instance address and through its Elastic IP, behind its security group, and gone with the instance."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.cloud import net_services
from localcloud.ec2 import processes
from localcloud.ec2.instances import APP_PORT_EVENT, OWNER_APP, OWNER_USER_DATA
from localcloud.ec2.userdata import UserDataRun, run_user_data
from localcloud.events import EventLog
from tests.localcloud.support import connect_outcome, http_get, process_gone, tiny_profile

pytestmark = pytest.mark.integration

# What a team writes for EC2: its own servers on the instance's private address (from IMDS), started in the
# background at the end of the script, which does not wait for them (localcloud must not race them).
SERVERS = """#!/bin/bash
set -euo pipefail
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}
TOKEN=$(curl -sf -X PUT "${IMDS}latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "${IMDS}latest/meta-data/$1"; }
LOCAL_IPV4=$(md local-ipv4)
INSTANCE_ID=$(md instance-id)
mkdir -p web api
echo "team web on $INSTANCE_ID" > web/index.html
echo "team api on $INSTANCE_ID" > api/index.html
nohup python3 -m http.server 80 --bind "$LOCAL_IPV4" --directory web > web.log 2>&1 &
echo $! > web.pid
nohup python3 -m http.server 9000 --bind "$LOCAL_IPV4" --directory api > api.log 2>&1 &
echo $! > api.pid
"""

@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=7, userdata_timeout_s=120,
                    services=net_services()) as running:  # the firewall: security groups on the data plane
        yield running


@pytest.fixture(scope="module")
def stack(cloud: LocalCloud) -> dict[str, str]:
    """A VPC instance behind a security group that admits 80 and 9000, with an Elastic IP. (Launched with the
    API: moto's CloudFormation ignores an instance's SecurityGroupIds and puts it in the default group.)"""
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.71.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="team-web", Description="the team's servers", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for port in (80, 9000)])
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                                 SecurityGroupIds=[group], UserData=SERVERS)["Instances"][0]
    iid = instance["InstanceId"]
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    decided = cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=90)
    assert decided.detail["owner"] == OWNER_USER_DATA, cloud.console_output(iid)
    cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], timeout=30)
    return {"Instance": iid, "PrivateIp": instance["PrivateIpAddress"], "PublicIp": eip["PublicIp"],
            "Group": group}


def home(cloud: LocalCloud, iid: str) -> Path:
    return cloud.workdir / iid


def pids_of(cloud: LocalCloud, iid: str) -> list[int]:
    """What runs as the instance's (its process marker is its directory: UserDataRun.marker)."""
    return processes.instance_pids([str(home(cloud, iid))])


def wait_until_listening(address: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not processes.listening(address, port):
        assert time.monotonic() < deadline, f"nothing listens on {address}:{port}"
        time.sleep(0.05)


def launch(cloud: LocalCloud, user_data: str) -> str:
    return str(cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                                 UserData=user_data)["Instances"][0]["InstanceId"])


def test_the_user_s_servers_answer_at_the_instance_address_and_its_elastic_ip(cloud: LocalCloud,
                                                                              stack: dict[str, str]) -> None:
    iid, private, public = stack["Instance"], stack["PrivateIp"], stack["PublicIp"]
    wait_until_listening(private, 9000)

    answers = {(where, port): http_get(address, port=port)
               for where, address in (("private", private), ("eip", public)) for port in (80, 9000)}

    for (where, port), (status, headers, body) in answers.items():
        name = "web" if port == 80 else "api"
        assert (status, body) == (200, f"team {name} on {iid}\n".encode()), (where, port)
        assert "x-served-by" not in headers  # not localcloud's built-in app
    assert "Address already in use" not in (cloud.console_output(iid) or "")
    assert "Address already in use" not in (home(cloud, iid) / "web.log").read_text()
    assert cloud.physics.fleet.app_owner_of(iid) == OWNER_USER_DATA


def test_a_security_group_block_black_holes_the_user_s_server_at_the_elastic_ip(cloud: LocalCloud,
                                                                               stack: dict[str, str]) -> None:
    ec2, public = cloud.client("ec2"), stack["PublicIp"]
    web = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    mark = len(cloud.events)

    ec2.revoke_security_group_ingress(GroupId=stack["Group"], IpPermissions=web)
    blocked = cloud.events.wait_for("localcloud.net.firewall", public, since=mark, timeout=10,
                                    where=lambda e: e.detail["port"] == 80)
    during = (connect_outcome(public, 80), http_get(public, port=9000)[0])
    mark = len(cloud.events)
    ec2.authorize_security_group_ingress(GroupId=stack["Group"], IpPermissions=web)
    cloud.events.wait_for("localcloud.net.firewall", public, since=mark, timeout=10,
                          where=lambda e: e.detail["port"] == 80 and e.detail["verdict"] == "open")

    assert (blocked.detail["verdict"], blocked.detail["mechanism"]) == ("new-dropped", "security-group")
    assert during == ("hangs", 200)  # the block is per port: the server on 9000 still answers
    assert http_get(public)[2] == f"team web on {stack['Instance']}\n".encode()


def test_a_server_that_binds_late_still_gets_the_port(cloud: LocalCloud) -> None:
    """How long a server takes to start does not decide who gets the port (no grace period to lose)."""
    iid = launch(cloud, SERVERS.replace('nohup python3 -m http.server 80', 'nohup sh -c \'sleep 2; exec "$0" "$@"\' '
                                                                          'python3 -m http.server 80'))

    decided = cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=90)
    exited = cloud.events.find("localcloud.userdata.exit", iid)[0]
    private = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "PrivateIpAddress"]

    assert decided.detail["owner"] == OWNER_USER_DATA
    assert decided.at - exited.at >= 1.5  # the script had long ended when the server bound
    assert http_get(private)[2] == f"team web on {iid}\n".encode()
    cloud.client("ec2").terminate_instances(InstanceIds=[iid])


def test_a_script_that_only_bootstraps_gets_the_built_in_app(cloud: LocalCloud) -> None:
    iid = launch(cloud, "#!/bin/bash\necho bootstrapped > done.txt\n")

    decided = cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=60)
    exited = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=5)
    private = str(decided.detail["address"])

    assert decided.detail["owner"] == OWNER_APP and decided.seq < exited.seq  # up when the exit is recorded
    assert http_get(private)[1]["x-served-by"] == iid


@contextlib.contextmanager
def twin(cloud: LocalCloud, iid: str, folder: Path) -> Iterator[int]:
    """A process of another cloud's instance with the same id (two clouds started with one seed: two test
    workers, two CI jobs on one runner), left running by that instance's user data; yields its pid."""
    run = UserDataRun(iid, b"#!/bin/bash\nnohup sleep 300 >/dev/null 2>&1 &\necho $! > sleeper.pid\n",
                      folder / iid, cloud.endpoint_url, "http://127.0.0.1:9/", timeout_s=30)
    assert asyncio.run(run_user_data(run, EventLog())) == 0, run.console_log.read_text()
    try:
        yield int((run.home / "sleeper.pid").read_text())
    finally:
        processes.kill_instances([run.marker])


def test_a_twin_cloud_s_processes_do_not_hold_the_port_undecided(cloud: LocalCloud, tmp_path: Path) -> None:
    iid = launch(cloud, "#!/bin/bash\nuntil [ -e go ]; do sleep 0.05; done\necho bootstrapped > done.txt\n")
    with twin(cloud, iid, tmp_path):
        (home(cloud, iid) / "go").touch()  # the script ends while the twin's process runs

        decided = cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=60)
        exited = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=5)

    assert decided.detail["owner"] == OWNER_APP and decided.seq < exited.seq
    cloud.client("ec2").terminate_instances(InstanceIds=[iid])


def test_terminating_an_instance_leaves_a_twin_cloud_s_processes_alone(cloud: LocalCloud, tmp_path: Path) -> None:
    iid = launch(cloud, "#!/bin/bash\nnohup sleep 300 >/dev/null 2>&1 &\necho $! > sleeper.pid\n")
    cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=60)
    own = int((home(cloud, iid) / "sleeper.pid").read_text())
    with twin(cloud, iid, tmp_path) as other:
        cloud.client("ec2").terminate_instances(InstanceIds=[iid])

        assert _settled(lambda: process_gone(own))
        assert not process_gone(other)  # the other cloud's instance still runs


def test_terminating_the_instance_kills_the_user_s_servers(cloud: LocalCloud, stack: dict[str, str]) -> None:
    iid, private, public = stack["Instance"], stack["PrivateIp"], stack["PublicIp"]
    pids = [int((home(cloud, iid) / f"{name}.pid").read_text()) for name in ("web", "api")]
    assert not any(process_gone(pid) for pid in pids)

    cloud.client("ec2").terminate_instances(InstanceIds=[iid])
    cloud.events.wait_for("localcloud.eip.unrouted", public, timeout=10)

    assert _settled(lambda: all(process_gone(pid) for pid in pids))  # SIGKILLed before the API call returned
    assert not pids_of(cloud, iid)
    assert not processes.listening(private, 9000)
    assert _settled(lambda: connect_outcome(private, 80) == "hangs")  # localcloud's black hole again
    assert connect_outcome(private, 9000) == "refused"  # a port localcloud never held: nothing there
    assert connect_outcome(public, 80) == "hangs" and connect_outcome(public, 9000) == "hangs"


def test_stopping_localcloud_kills_what_user_data_left_running(cloud: LocalCloud) -> None:
    """Last in this module: it stops the module's cloud."""
    iid = launch(cloud, SERVERS)
    assert cloud.events.wait_for(APP_PORT_EVENT, iid, timeout=90).detail["owner"] == OWNER_USER_DATA
    pids = [int((home(cloud, iid) / f"{name}.pid").read_text()) for name in ("web", "api")]
    private = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "PrivateIpAddress"]

    cloud.stop()

    assert all(process_gone(pid) for pid in pids)
    assert not pids_of(cloud, iid)
    for port in (80, 9000):
        with socket.socket() as probe:
            probe.bind((private, port))  # nothing holds the ports any more


def _settled(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
