"""static-ip-haproxy on localcloud (fast profile), one deploy: the user data claims each EIP by tag and starts
a real HAProxy from the stack's config; HAProxy follows the blue/green name; every HAProxy dies with its
instance and with the cloud."""

from __future__ import annotations

import ssl
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.stacks import STACKS_DIR
from localcloud.cloud import LocalCloud
from localcloud.profiles import load
from tests.localcloud.support import process_gone

pytestmark = pytest.mark.integration

ZONE = "sih.gameday.test"


@dataclass
class Deployed:
    cloud: LocalCloud
    outputs: dict[str, str]

    @property
    def ips(self) -> list[str]:
        return self.outputs["ProxyIps"].split(",")


def _haproxy_pids(workdir: Path) -> dict[int, str]:
    """HAProxy processes started from this cloud's instance directories: pid -> command line."""
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("haproxy") and str(workdir) in cmdline and not process_gone(int(proc.name)):
            found[int(proc.name)] = cmdline
    return found


def _until(condition, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    return condition()


def _get(url: str) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:  # noqa: S310 - loopback only
            return answer.status, answer.headers.get("X-Served-By", "")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with LocalCloud(load("fast")) as cloud:
        cfn = cloud.client("cloudformation")
        params = {"ZoneName": ZONE, "RecordTtl": "12", "BackendTtl": "1"}
        cfn.create_stack(StackName="sih", TemplateBody=(STACKS_DIR / "static-ip-haproxy" / "template.yaml").read_text(),
                         Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        stack = cfn.describe_stacks(StackName="sih")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        yield Deployed(cloud, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]})
        workdir = cloud.workdir
    assert _until(lambda: not _haproxy_pids(workdir), 10), "HAProxy outlived the cloud"


def test_every_proxy_claims_its_eip_and_serves_through_haproxy(deployed: Deployed) -> None:
    assert _until(lambda: all(_get(f"http://{ip}:9000/health")[0] == 200 for ip in deployed.ips)), \
        "a health endpoint never answered 200"
    served = {ip: _get(f"https://{ip}/") for ip in deployed.ips}
    assert all(status == 200 and who.startswith("blue/") for status, who in served.values()), served
    assert len(_haproxy_pids(deployed.cloud.workdir)) >= 4


def test_haproxy_follows_the_blue_green_name(deployed: Deployed) -> None:
    r53 = deployed.cloud.client("route53")
    name = deployed.outputs["BackendName"]
    r53.change_resource_record_sets(HostedZoneId=deployed.outputs["ZoneId"], ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"{name}.", "Type": "CNAME", "TTL": 1,
                                                   "ResourceRecords": [{"Value": f"green.{name}"}]}}]})
    assert _until(lambda: all(_get(f"https://{ip}/")[1].startswith("green/") for ip in deployed.ips), 60)


def test_a_terminated_proxy_takes_its_haproxy_with_it(deployed: Deployed) -> None:
    ec2 = deployed.cloud.client("ec2")
    ip, workdir = deployed.ips[0], deployed.cloud.workdir

    def serving() -> tuple[str, list[int]] | None:
        """The instance behind the EIP and its HAProxy (not a `haproxy -c` config check), once that answers: the
        user data associates the EIP before it starts HAProxy, and no earlier test need have waited for it."""
        instance_id = ec2.describe_addresses(PublicIps=[ip])["Addresses"][0].get("InstanceId")
        if not instance_id or _get(f"http://{ip}:9000/health")[0] == 0:
            return None
        pids = [pid for pid, cmd in _haproxy_pids(workdir).items() if instance_id in cmd and " -c " not in cmd]
        return (instance_id, pids) if pids else None

    found = _until(serving, 60)
    assert found, f"no instance behind {ip} runs a HAProxy that answers"
    instance_id, mine = found
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert _until(lambda: all(process_gone(pid) for pid in mine), 10), "HAProxy outlived its instance"
