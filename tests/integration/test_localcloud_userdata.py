"""User data runs for real at boot: bash, the AWS CLI with the instance role's credentials from IMDS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localcloud import LocalCloud
from tests.localcloud.support import http_get, tiny_profile

pytestmark = pytest.mark.integration

CLAIM_EIP = """#!/bin/bash
set -euo pipefail
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254/}
TOKEN=$(curl -sf -X PUT "${IMDS}latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
md() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "${IMDS}latest/meta-data/$1"; }
INSTANCE_ID=$(md instance-id)
REGION=$(md placement/region)
echo "I am $INSTANCE_ID in $REGION, role $(md iam/security-credentials/)"
aws ec2 associate-address --region "$REGION" --instance-id "$INSTANCE_ID" --allocation-id "%s" \
  --allow-reassociation
env | sort | grep -E '^(AWS_|HOME=|PATH=)' > "$HOME/env.txt"
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), userdata_timeout_s=120) as running:
        yield running


@pytest.fixture(scope="module")
def instance_profile(cloud: LocalCloud) -> str:
    iam = cloud.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(trust))
    claim = {"Effect": "Allow", "Action": "ec2:AssociateAddress", "Resource": "*"}  # IAM is enforced for the role
    iam.put_role_policy(RoleName="web", PolicyName="claim",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [claim]}))
    iam.create_instance_profile(InstanceProfileName="web")
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web")
    return "web"


def launch(cloud: LocalCloud, user_data: str, profile: str | None = None) -> str:
    kwargs = {"IamInstanceProfile": {"Name": profile}} if profile else {}
    instance = cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                                 UserData=user_data, **kwargs)["Instances"][0]
    return str(instance["InstanceId"])


def test_user_data_claims_an_elastic_ip_with_the_instance_role(cloud: LocalCloud, instance_profile: str) -> None:
    eip = cloud.client("ec2").allocate_address(Domain="vpc")

    iid = launch(cloud, CLAIM_EIP % eip["AllocationId"], instance_profile)
    finished = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=90)
    routed = cloud.events.wait_for("localcloud.eip.routed", eip["PublicIp"], timeout=10)
    console = cloud.console_output(iid) or ""
    env = dict(line.split("=", 1) for line in (cloud.workdir / iid / "env.txt").read_text().splitlines())

    assert finished.detail["code"] == 0, finished.detail["tail"]
    assert routed.detail["instance"] == iid
    assert http_get(eip["PublicIp"])[1]["x-served-by"] == iid
    assert f"I am {iid} in us-east-1, role web" in console
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint_url
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"].endswith(":8169/")
    assert "AWS_ACCESS_KEY_ID" not in env and env["HOME"] == str(cloud.workdir / iid)
    assert (cloud.workdir / iid / ".aws" / "config").read_text() == ""


def test_a_failing_script_is_reported_and_the_instance_keeps_running(cloud: LocalCloud) -> None:
    iid = launch(cloud, "#!/bin/bash\necho about to fail\nexit 3\n")

    finished = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=30)
    state = cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]

    assert (finished.detail["code"], finished.detail["reason"]) == (3, "failed")
    assert "about to fail" in finished.detail["tail"]
    assert state["Name"] == "running"


def test_without_an_instance_role_the_cli_finds_no_credentials(cloud: LocalCloud) -> None:
    iid = launch(cloud, "#!/bin/bash\naws ec2 describe-instances --region us-east-1 >/dev/null\n")

    finished = cloud.events.wait_for("localcloud.userdata.exit", iid, timeout=90)

    assert finished.detail["code"] != 0
    assert "credentials" in finished.detail["tail"].lower()

