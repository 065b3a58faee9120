"""localcloud standing in for an AWS account: a standalone `python -m localcloud serve`, each reference stack
deployed on it by hand with boto3 as a team would (untagged, its own names), then the front door:
`gameday run --backend aws --endpoint-url … --existing-stack …`. Every core scenario passes, gameday deploys
nothing and deletes nothing, and the report says backend aws and the profile the numbers were judged against.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.test_aws_sandbox import ACCOUNT, ROOT, child_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STACKS = ROOT / "stacks"
REGION = "us-east-1"
REPLICA_REGION = "us-west-2"


@dataclass(frozen=True)
class Account:
    """The stand-in account: where its API answers and its DNS servers (the team's resolvers)."""

    endpoint: str
    dns: dict[str, dict[str, Any]]

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def resolver_args(self) -> list[str]:
        args: list[str] = []
        for name, spec in sorted(self.dns.items()):
            label = "authoritative" if spec.get("kind") == "authoritative" else name
            args += ["--resolver", f"{label}={spec['host']}:{spec['port']}"]
        return args

    def stacks(self) -> set[tuple[str, str, str]]:
        """(region, name, status) of every stack the account has, deleted ones included."""
        found = set()
        for region in (REGION, REPLICA_REGION):
            for page in self.client("cloudformation", region).get_paginator("list_stacks").paginate():
                found |= {(region, s["StackName"], s["StackStatus"]) for s in page["StackSummaries"]}
        return found


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    env = child_env()
    proc = subprocess.Popen([sys.executable, "-m", "localcloud", "serve", "--profile", "fast"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] is True
        yield Account(ready["endpoint_url"], ready["dns"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()


def deploy(account: Account, name: str, template: Path, region: str = REGION, **parameters: str) -> dict[str, str]:
    """What a team does by hand: create the stack, wait, read its outputs."""
    cfn = account.client("cloudformation", region)
    cfn.create_stack(StackName=name, TemplateBody=template.read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])} | {"StackId": stack["StackId"]}


def run_gameday(account: Account, tmp_path: Path, stack: str, existing: list[str]) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "gameday", "run", "--backend", "aws", "--endpoint-url", account.endpoint,
               "--region", REGION, "--allow-account", ACCOUNT, "--profile", "fast", "--stack", stack,
               "--report-dir", str(tmp_path), "--run-id", f"aws-{stack[:20]}", *account.resolver_args()]
    for value in existing:
        command += ["--existing-stack", value]
    done = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=900)
    report = tmp_path / f"aws-{stack[:20]}" / "report.json"
    data = json.loads(report.read_text()) if report.exists() else {}
    return done.returncode, data, done.stdout[-4000:] + done.stderr[-4000:]


def deploy_eip(account: Account) -> list[str]:
    deploy(account, "team-web", STACKS / "eip-self-healing" / "template.yaml", ZoneName="web.team.test")
    return ["team-web"]


HAND_DEPLOYS: dict[str, Callable[[Account], list[str]]] = {
    "eip-self-healing": deploy_eip,
}


@pytest.mark.parametrize("stack", sorted(HAND_DEPLOYS))
def test_a_stack_deployed_by_hand_runs_through_the_aws_front_door(account: Account, tmp_path: Path,
                                                                   stack: str) -> None:
    existing = HAND_DEPLOYS[stack](account)
    before = account.stacks()

    code, data, output = run_gameday(account, tmp_path, stack, existing)

    assert code == 0, output
    assert data["backend"] == "aws" and data["profile"] == "fast"
    assert "judged against time profile fast" in data["label"]
    assert data["scenarios"] and all(s["verdict"] == "passed" for s in data["scenarios"]), output
    assert account.stacks() == before  # nothing created, nothing deleted
    journal = [json.loads(line) for line in (tmp_path / f"aws-{stack[:20]}" / "rollback.jsonl").read_text()
               .splitlines()]
    assert journal and all(e.get("backend", {}).get("endpoint_url") == account.endpoint
                           for e in journal if "backend" in e)
