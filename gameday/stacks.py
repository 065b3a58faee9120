"""Reference stacks: deploy a template through the CloudFormation API, read outputs, delete (checked).

The same calls serve localcloud and AWS; nothing here knows which backend it talks to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from gameday.backends.base import Backend
from gameday.errors import ConfigError, DeployError

log = logging.getLogger(__name__)

STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"
RUN_TAG = "gameday:run"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_IN_PROGRESS = ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS",
                "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")


@dataclass(frozen=True)
class StackSpec:
    """A reference stack: its folder under stacks/ and the parameters to deploy it with."""

    stack_id: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    template_path: Path | None = None

    @property
    def template(self) -> Path:
        return self.template_path or STACKS_DIR / self.stack_id / "template.yaml"


@dataclass(frozen=True)
class DeployedStack:
    spec: StackSpec
    name: str
    stack_arn: str
    outputs: Mapping[str, str]
    resources: Mapping[str, tuple[str, str]]  # logical id -> (type, physical id)

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            raise DeployError(f"stack {self.name} has no output {key!r} (has: {', '.join(self.outputs)})",
                              stack=self.name) from None

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id][1]
        except KeyError:
            raise DeployError(f"stack {self.name} has no resource {logical_id!r}", stack=self.name) from None


def available_stacks() -> list[str]:
    return sorted(p.parent.name for p in STACKS_DIR.glob("*/template.yaml"))


def stack_name(run_id: str, stack_id: str) -> str:
    """CloudFormation stack names: letters, digits and hyphens, starting with a letter, ≤128 chars."""
    return f"gd-{run_id}-{stack_id}"[:128]


def create_request(spec: StackSpec, name: str, run_id: str) -> dict[str, Any]:
    """The CreateStack arguments for every backend: named and tagged for the run, deleted if it fails."""
    return {
        "StackName": name,
        "TemplateBody": spec.template.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in spec.parameters.items()],
        "Capabilities": CAPABILITIES,
        "Tags": [{"Key": RUN_TAG, "Value": run_id}, {"Key": "gameday:stack", "Value": spec.stack_id}],
        "OnFailure": "DELETE",
    }


def deploy(backend: Backend, spec: StackSpec, run_id: str, *, timeout_s: float = 900.0) -> DeployedStack:
    """Create the stack, wait until it is complete, and read its outputs and resources."""
    if not spec.template.is_file():
        raise ConfigError(f"unknown stack {spec.stack_id!r} (available: {', '.join(available_stacks())})")
    cfn = backend.client("cloudformation")
    name = stack_name(run_id, spec.stack_id)
    try:
        created = cfn.create_stack(**create_request(spec, name, run_id))
    except ClientError as exc:
        raise DeployError(f"create_stack {name} refused: {exc}", stack=name) from exc
    stack = _wait_settled(cfn, created["StackId"], timeout_s)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        reason = stack.get("StackStatusReason", "no reason given")
        raise DeployError(f"stack {name} ended {stack['StackStatus']}: {reason}", stack=name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = _resources(cfn, created["StackId"])
    log.info("deployed %s (%d resources, outputs %s)", name, len(resources), sorted(outputs))
    return DeployedStack(spec, name, created["StackId"], outputs, resources)


def delete(backend: Backend, stack: DeployedStack, *, timeout_s: float = 900.0) -> None:
    """Delete the stack and confirm it is gone: DELETE_COMPLETE, checked rather than assumed."""
    cfn = backend.client("cloudformation")
    try:
        cfn.delete_stack(StackName=stack.stack_arn)
    except ClientError as exc:
        raise DeployError(f"delete_stack {stack.name} refused: {exc}", stack=stack.name) from exc
    final = _wait_settled(cfn, stack.stack_arn, timeout_s)
    if final["StackStatus"] != "DELETE_COMPLETE":
        raise DeployError(f"stack {stack.name} not deleted: {final['StackStatus']} "
                          f"{final.get('StackStatusReason', '')}".rstrip(), stack=stack.name)


def _wait_settled(cfn: Any, stack_id: str, timeout_s: float) -> dict[str, Any]:
    @retry(retry=retry_if_result(lambda s: s["StackStatus"] in _IN_PROGRESS),
           wait=wait_fixed(1.0), stop=stop_after_delay(timeout_s))
    def poll() -> dict[str, Any]:
        stacks: list[dict[str, Any]] = cfn.describe_stacks(StackName=stack_id)["Stacks"]
        return stacks[0]

    try:
        return poll()
    except RetryError as exc:
        raise DeployError(f"stack {stack_id} still in progress after {timeout_s:.0f} s", stack=stack_id) from exc


def _resources(cfn: Any, stack_id: str) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for row in page["StackResourceSummaries"]:
            if row.get("LogicalResourceId"):
                found[row["LogicalResourceId"]] = (row["ResourceType"], row.get("PhysicalResourceId", ""))
    return found
