"""The VPC resolver is each instance's system resolver, as on AWS: user data (and all it starts) resolves with libc
through its VPC's resolver, private zones of that VPC included, in a mount namespace of its own where
/etc/resolv.conf names the resolver. HAProxy without a `resolvers` section resolves its backend once at start
and stays on that address after a DNS switch (what it does on AWS)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import dns.message
import dns.query
import dns.rdatatype
import pytest

from localcloud import LocalCloud
from localcloud.cloud import vpc_resolver_services
from localcloud.ec2.instances import APP_PORT_EVENT, OWNER_USER_DATA
from localcloud.ec2.userdata import system_resolver_unavailable
from localcloud.route53.services import dns_services
from tests.localcloud.support import http_get, tiny_profile

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(system_resolver_unavailable() is not None,
                                 reason=f"no private mount namespace here: {system_resolver_unavailable()}")]

ZONE = "internal.vpcres.test"

PRINT_RESOLUTION = f"""#!/bin/bash
set -uo pipefail
getent hosts db.{ZONE} && echo "getent=ok" || echo "getent=failed:$?"
getent ahostsv4 localhost | head -n 1
echo "VPC_DNS_RESOLVER=$VPC_DNS_RESOLVER"
cat /etc/resolv.conf
read -r _state _ppid pgid session _ < <(cut -d')' -f2 /proc/$$/stat)
printf "pid=%s\npgid=%s\nsession=%s\n" "$$" "$pgid" "$session"
"""

# A HAProxy config WITHOUT a `resolvers` section: the backend's name is resolved by libc at start, once.
HAPROXY_NO_RESOLVERS = f"""#!/bin/bash
set -euo pipefail
IMDS=$AWS_EC2_METADATA_SERVICE_ENDPOINT
TOKEN=$(curl -sf -X PUT "${{IMDS}}latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
LOCAL_IPV4=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "${{IMDS}}latest/meta-data/local-ipv4")
cat > haproxy.cfg <<EOF
global
    maxconn 64
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend web
    bind $LOCAL_IPV4:80
    default_backend app
backend app
    server app app.{ZONE}:80
EOF
haproxy -c -f haproxy.cfg
haproxy -D -f haproxy.cfg -p haproxy.pid
"""

BOOT_ONLY = """#!/bin/bash
true
"""

CALL_MOTO = """#!/bin/bash
set -euo pipefail
IMDS=$AWS_EC2_METADATA_SERVICE_ENDPOINT
TOKEN=$(curl -sf -X PUT "${IMDS}latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
ID=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "${IMDS}latest/meta-data/instance-id")
echo "state=$(aws ec2 describe-instances --region us-east-1 --instance-ids "$ID" \
    --query 'Reservations[0].Instances[0].State.Name' --output text)"
"""


@dataclass(frozen=True)
class Vpc:
    vpc: str
    subnet: str
    zone_id: str


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=11, userdata_timeout_s=60,
                    services=[*dns_services(), *vpc_resolver_services()]) as running:
        yield running


def make_vpc(cloud: LocalCloud, octet: int) -> tuple[str, str]:
    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.1.0/24")["Subnet"]["SubnetId"]
    return vpc, subnet


@pytest.fixture(scope="module")
def inside(cloud: LocalCloud) -> Vpc:
    """A VPC with a private zone (db.<zone>, a fixed address; app.<zone>, set by the HAProxy test) and its resolver
    running: localcloud starts a VPC's resolver when user data first runs in it, so one instance boots here and
    every test finds the resolver, whichever tests ran before it in this process (or none)."""
    vpc, subnet = make_vpc(cloud, 72)
    zone = cloud.client("route53").create_hosted_zone(
        Name=ZONE, CallerReference=uuid.uuid4().hex, HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": cloud.region, "VPCId": vpc})["HostedZone"]["Id"]
    upsert(cloud, zone, f"db.{ZONE}", "10.72.1.50")
    booted, _ = launch(cloud, subnet, BOOT_ONLY)
    user_data_output(cloud, booted)
    return Vpc(vpc, subnet, zone)


def upsert(cloud: LocalCloud, zone_id: str, name: str, address: str) -> None:
    mark = len(cloud.events)
    cloud.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": 1,
                                                   "ResourceRecords": [{"Value": address}]}}]})
    cloud.events.wait_for("localcloud.route53.change", name + ".", since=mark, timeout=10)


def launch(cloud: LocalCloud, subnet: str, user_data: str | None = None, **kwargs: object) -> tuple[str, str]:
    extra = {"UserData": user_data} if user_data else {}
    instance = cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                                                 **extra, **kwargs)["Instances"][0]
    return str(instance["InstanceId"]), str(instance["PrivateIpAddress"])


def user_data_output(cloud: LocalCloud, iid: str) -> dict[str, str]:
    finished = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=60)
    assert finished.detail["code"] == 0, finished.detail["tail"]
    console = cloud.console_output(iid) or ""
    return {"console": console, **dict(line.split("=", 1) for line in console.splitlines()
                                       if "=" in line and " " not in line.split("=", 1)[0])}


def resolver_of(cloud: LocalCloud, vpc: str) -> tuple[str, int]:
    """The VPC's resolver, which runs once user data has run in the VPC (the boot waits for it to start)."""
    running = cloud.service("vpc-resolver").describe()
    assert vpc in running, f"no resolver for {vpc} although user data ran in it: {sorted(running)}"
    return str(running[vpc]["host"]), 53


def ask(server: tuple[str, int], name: str) -> list[str]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), server[0], port=server[1], timeout=2)
    return sorted(r.to_text() for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for r in rrset)


def test_user_data_resolves_a_private_name_of_its_vpc_with_libc(cloud: LocalCloud, inside: Vpc) -> None:
    iid, _ = launch(cloud, inside.subnet, PRINT_RESOLUTION)

    out = user_data_output(cloud, iid)
    resolver = resolver_of(cloud, inside.vpc)

    assert out["getent"] == "ok", out["console"]
    assert f"10.72.1.50      db.{ZONE}" in out["console"]
    assert f"nameserver {resolver[0]}\noptions timeout:2 attempts:5\n" in out["console"]
    assert out["VPC_DNS_RESOLVER"] == f"{resolver[0]}:53"  # kept for scripts (HAProxy's resolvers section)
    assert "127.0.0.1       STREAM localhost" in out["console"]  # /etc/hosts is still read first
    # unshare and sh exec in place: the script is the process (and session) localcloud spawned and tracks.
    assert out["pid"] == out["pgid"] == out["session"]


def test_another_vpc_does_not_see_the_private_zone(cloud: LocalCloud, inside: Vpc) -> None:
    other_vpc, other_subnet = make_vpc(cloud, 73)
    iid, _ = launch(cloud, other_subnet, PRINT_RESOLUTION)

    out = user_data_output(cloud, iid)

    assert out["getent"].startswith("failed"), out["console"]
    assert resolver_of(cloud, other_vpc) != resolver_of(cloud, inside.vpc)


def test_a_zone_created_later_is_followed_by_the_running_resolver(cloud: LocalCloud, inside: Vpc) -> None:
    resolver = resolver_of(cloud, inside.vpc)
    later = f"later{uuid.uuid4().hex[:6]}.vpcres.test"
    zone = cloud.client("route53").create_hosted_zone(
        Name=later, CallerReference=uuid.uuid4().hex, HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": cloud.region, "VPCId": inside.vpc})["HostedZone"]["Id"]
    upsert(cloud, zone, f"x.{later}", "10.72.1.60")

    deadline = time.monotonic() + 5
    while ask(resolver, f"x.{later}") != ["10.72.1.60"]:
        assert time.monotonic() < deadline, f"the VPC resolver never answered x.{later}"
        time.sleep(0.1)


def test_the_host_keeps_its_own_resolv_conf(cloud: LocalCloud, inside: Vpc) -> None:
    with open("/etc/resolv.conf") as host:
        assert "vpcres" not in host.read() and all(
            resolver_of(cloud, inside.vpc)[0] not in line for line in host)
    mounts = subprocess.run(["findmnt", "-n", "/etc/resolv.conf"], capture_output=True, text=True, check=False)
    assert str(cloud.workdir) not in mounts.stdout


def test_the_aws_cli_reaches_moto_from_inside_the_namespace(cloud: LocalCloud, inside: Vpc) -> None:
    iam = cloud.client("iam")
    name = f"describe{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": '
                    '"Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
    iam.put_role_policy(RoleName=name, PolicyName="describe", PolicyDocument='{"Version": "2012-10-17", '
                        '"Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]}')
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)

    iid, _ = launch(cloud, inside.subnet, CALL_MOTO, IamInstanceProfile={"Name": name})

    assert user_data_output(cloud, iid)["state"] == "running"


def test_haproxy_without_resolvers_starts_and_stays_on_the_first_address(cloud: LocalCloud, inside: Vpc) -> None:
    blue, blue_ip = launch(cloud, inside.subnet)
    green, green_ip = launch(cloud, inside.subnet)
    for iid in (blue, green):
        cloud.events.wait_for("localcloud.instance.booted", iid, timeout=30)
    upsert(cloud, inside.zone_id, f"app.{ZONE}", blue_ip)

    proxy, proxy_ip = launch(cloud, inside.subnet, HAPROXY_NO_RESOLVERS)
    decided = cloud.events.wait_for(APP_PORT_EVENT, proxy, timeout=60)
    assert decided.detail["owner"] == OWNER_USER_DATA, cloud.console_output(proxy)
    assert "Configuration file is valid" in (cloud.console_output(proxy) or "")
    assert http_get(proxy_ip)[1]["x-served-by"] == blue

    upsert(cloud, inside.zone_id, f"app.{ZONE}", green_ip)
    deadline = time.monotonic() + 5
    while ask(resolver_of(cloud, inside.vpc), f"app.{ZONE}") != [green_ip]:  # TTL 1 s: the resolver follows
        assert time.monotonic() < deadline, "the VPC resolver never answered the switched record"
        time.sleep(0.1)

    # The honest failure, as on AWS: HAProxy resolved once at start and keeps sending to blue.
    assert {http_get(proxy_ip)[1]["x-served-by"] for _ in range(5)} == {blue}
