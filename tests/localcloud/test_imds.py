"""IMDSv2 of one instance, against a stand-in for moto's instance object."""

import json
from datetime import datetime
from types import SimpleNamespace

import pytest

from localcloud.ec2.imds import Credentials, Imds
from localcloud.net.http import Request, Response


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_instance(public_ip: str | None = None) -> SimpleNamespace:
    group = SimpleNamespace(id="sg-1", name="web")
    subnet = SimpleNamespace(id="subnet-1", cidr_block="10.42.1.0/24", vpc_id="vpc-1")
    backend = SimpleNamespace(
        get_vpc=lambda vpc_id: SimpleNamespace(cidr_block="10.42.0.0/16"),
        iam_instance_profile_associations={"i-1": SimpleNamespace(iam_instance_profile=SimpleNamespace(
            roles=[SimpleNamespace(name="web-role")], arn="arn:aws:iam::123456789012:instance-profile/p",
            id="AIPA1"))},
    )
    nic = SimpleNamespace(id="eni-1", mac_address="02:00:00:aa:bb:cc", device_index=0, public_ip=public_ip,
                          private_ip_addresses=[{"PrivateIpAddress": "127.9.1.1", "Primary": True}],
                          ipv6_addresses=[], group_set=[group], subnet=subnet, ec2_backend=backend,
                          owner_id="123456789012")
    return SimpleNamespace(id="i-1", image_id="ami-1", ami_launch_index=0, instance_type="t3.micro",
                           private_ip="127.9.1.1", placement=SimpleNamespace(zone="us-east-1b"), nics={0: nic},
                           security_groups=[group], ec2_backend=backend, owner_id="123456789012",
                           architecture="x86_64", launch_time=datetime(2026, 1, 1))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def imds(clock: FakeClock) -> Imds:
    return Imds(fake_instance(public_ip="127.9.1.2"), region="us-east-1", credentials=Credentials.issue(0.0),
                user_data=b"#!/bin/bash\necho hi\n", monotonic=clock)


def call(imds: Imds, method: str, path: str, **headers: str) -> Response:
    return imds.handle(Request(method, path, {}, {k.lower().replace("_", "-"): v for k, v in headers.items()}))


def token(imds: Imds, ttl: str = "60") -> str:
    answer = call(imds, "PUT", "/latest/api/token", x_aws_ec2_metadata_token_ttl_seconds=ttl)
    assert answer.status == 200
    return answer.body.decode()


def get(imds: Imds, path: str, tok: str) -> Response:
    return call(imds, "GET", path, x_aws_ec2_metadata_token=tok)


def test_every_get_needs_a_valid_token(imds: Imds) -> None:
    assert call(imds, "GET", "/latest/meta-data/instance-id").status == 401
    assert get(imds, "/latest/meta-data/instance-id", "forged").status == 401
    assert get(imds, "/latest/meta-data/instance-id", token(imds)).body == b"i-1"


def test_tokens_expire_after_their_ttl(imds: Imds, clock: FakeClock) -> None:
    tok = token(imds, ttl="10")
    clock.now += 11

    assert get(imds, "/latest/meta-data/instance-id", tok).status == 401


def test_token_requests_are_checked(imds: Imds) -> None:
    assert call(imds, "PUT", "/latest/api/token").status == 400
    assert call(imds, "PUT", "/latest/api/token", x_aws_ec2_metadata_token_ttl_seconds="21601").status == 400
    assert call(imds, "PUT", "/latest/api/token", x_aws_ec2_metadata_token_ttl_seconds="5",
                x_forwarded_for="1.2.3.4").status == 403


def test_metadata_describes_the_instance_and_its_interface(imds: Imds) -> None:
    tok = token(imds)
    mac = "02:00:00:aa:bb:cc"
    values = {path: get(imds, f"/latest/meta-data/{path}", tok).body.decode() for path in (
        "local-ipv4", "public-ipv4", "mac", "placement/availability-zone/", "placement/region",
        f"network/interfaces/macs/{mac}/interface-id", f"network/interfaces/macs/{mac}/subnet-id",
        f"network/interfaces/macs/{mac}/vpc-id", f"network/interfaces/macs/{mac}/local-ipv4s")}
    listing = get(imds, "/latest/meta-data/", tok).body.decode().splitlines()

    assert values == {"local-ipv4": "127.9.1.1", "public-ipv4": "127.9.1.2", "mac": mac,
                      "placement/availability-zone/": "us-east-1b", "placement/region": "us-east-1",
                      f"network/interfaces/macs/{mac}/interface-id": "eni-1",
                      f"network/interfaces/macs/{mac}/subnet-id": "subnet-1",
                      f"network/interfaces/macs/{mac}/vpc-id": "vpc-1",
                      f"network/interfaces/macs/{mac}/local-ipv4s": "127.9.1.1"}
    assert {"instance-id", "placement/", "network/", "iam/"} <= set(listing)


def test_role_credentials_come_as_ec2_serves_them(imds: Imds) -> None:
    tok = token(imds)
    role = get(imds, "/latest/meta-data/iam/security-credentials/", tok).body.decode()
    creds = json.loads(get(imds, f"/latest/meta-data/iam/security-credentials/{role}", tok).body)

    assert role == "web-role"
    assert creds["Code"] == "Success" and creds["AccessKeyId"].startswith("ASIA")
    assert {"SecretAccessKey", "Token", "Expiration", "LastUpdated", "Type"} <= creds.keys()


def test_user_data_identity_document_and_no_spot_notice(imds: Imds) -> None:
    tok = token(imds)
    document = json.loads(get(imds, "/latest/dynamic/instance-identity/document", tok).body)

    assert get(imds, "/latest/user-data", tok).body == b"#!/bin/bash\necho hi\n"
    assert (document["instanceId"], document["region"], document["privateIp"]) == ("i-1", "us-east-1", "127.9.1.1")
    assert get(imds, "/latest/meta-data/spot/instance-action", tok).status == 404


def test_no_public_ipv4_without_a_public_address(clock: FakeClock) -> None:
    private_only = Imds(fake_instance(), region="us-east-1", credentials=Credentials.issue(0.0), user_data=None,
                        monotonic=clock)
    tok = token(private_only)

    assert get(private_only, "/latest/meta-data/public-ipv4", tok).status == 404
    assert get(private_only, "/latest/user-data", tok).status == 404
