"""Stacks through the CloudFormation API, the one path for every backend: create with the waiter, read back
(outputs, resources, the *deployed* template and parameters), adopt an existing stack, delete and confirm.

Nothing here knows which backend it talks to: it uses `backend.client("cloudformation", region)` only. An
adopted stack (`--existing-stack`) is read exactly like one this run created, and is never deleted.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gameday import guards
from gameday.backends.base import Backend, is_loopback
from gameday.errors import BackendError, ConfigError, DeployError
from gameday.resources import FILES
from gameday.template import StackConfig, load_template, load_template_text

log = logging.getLogger(__name__)

STACKS_DIR = FILES.stacks_dir
RUN_TAG = "gameday:run"  # the game day's exact run id: what the blast-radius guard matches
DEPLOY_TAG = "gameday:deploy"  # the deploy's own id (`<run-id>-<suffix>`) when it differs
STACK_TAG = "gameday:stack"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STACK_ARN = re.compile(r"arn:aws[a-z-]*:cloudformation:(?P<region>[a-z0-9-]+):[0-9]{12}:stack/[A-Za-z0-9/._-]+")
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


@dataclass(frozen=True)
class StackSpec:
    """One CloudFormation stack to deploy: whose it is, its template, parameters and region (None: the
    backend's). `part` names it within its kit ("main", "replica", "edge" ...)."""

    stack_id: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    template_path: Path | None = None
    region: str | None = None
    part: str = "main"

    @property
    def template(self) -> Path:
        return self.template_path or STACKS_DIR / self.stack_id / "template.yaml"


@dataclass(frozen=True)
class DeployedStack:
    """A stack as CloudFormation reports it: what the prediction and the faults read (never the repo's copy)."""

    spec: StackSpec
    name: str
    stack_arn: str
    outputs: Mapping[str, str]
    resources: Mapping[str, tuple[str, str]]  # logical id -> (type, physical id)
    template: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the deployed template, parsed
    parameters: Mapping[str, str] = field(default_factory=dict)  # as deployed (defaults filled in by CFN)
    region: str = ""
    adopted: bool = False  # named with --existing-stack: never deleted by gameday

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

    def of_type(self, resource_type: str) -> list[str]:
        """Physical ids of every resource of this CloudFormation type."""
        return [physical for kind, physical in self.resources.values() if kind == resource_type]


def available_stacks() -> list[str]:
    return sorted(p.parent.name for p in STACKS_DIR.glob("*/template.yaml"))


def stack_name(run_id: str, stack_id: str) -> str:
    """CloudFormation stack names: letters, digits and hyphens, starting with a letter, ≤128 chars."""
    return f"gd-{run_id}-{stack_id}"[:128]


def create_request(spec: StackSpec, name: str, run_id: str, run_tag: str | None = None) -> dict[str, Any]:
    """The CreateStack arguments for every backend: named and tagged for the run, deleted if it fails.
    `run_tag` is the game day's run id when `run_id` is a deploy's suffixed one (names stay unique per deploy,
    the tag is what the guard matches exactly)."""
    tags = [{"Key": RUN_TAG, "Value": run_tag or run_id}, {"Key": STACK_TAG, "Value": spec.stack_id}]
    if run_tag and run_tag != run_id:
        tags.append({"Key": DEPLOY_TAG, "Value": run_id})
    return {
        "StackName": name,
        "TemplateBody": spec.template.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in spec.parameters.items()],
        "Capabilities": CAPABILITIES,
        "Tags": tags,
        "OnFailure": "DELETE",
    }


def deploy(backend: Backend, spec: StackSpec, run_id: str, *, timeout_s: float = 1800.0,
           run_tag: str | None = None) -> DeployedStack:
    """Create the stack (named and tagged for the run), wait with the CloudFormation waiter, read it back."""
    if not spec.template.is_file():
        raise ConfigError(f"stack {spec.stack_id!r}: template {spec.template} not found")
    cfn = backend.client("cloudformation", region=spec.region)
    name = stack_name(run_id, spec.stack_id if spec.part == "main" else f"{spec.stack_id}-{spec.part}")
    with _refusal(f"create_stack {name} refused", name, DeployError):
        created = cfn.create_stack(**create_request(spec, name, run_id, run_tag))
    _wait(backend, cfn, "stack_create_complete", created["StackId"], name, timeout_s)
    stack = read_stack(backend, spec, created["StackId"])
    log.info("deployed %s (%d resources, outputs %s)", name, len(stack.resources), sorted(stack.outputs))
    return stack


def adopt(backend: Backend, name: str, spec: StackSpec) -> DeployedStack:
    """A stack deployed by someone else, named by name or ARN: read as if deployed here, never deleted.
    A part in another region than the backend's must be named by its ARN (names are per region)."""
    if not (STACK_NAME.fullmatch(name) or STACK_ARN.fullmatch(name)):
        raise ConfigError(f"--existing-stack: {name[:80]!r} is not a stack name or ARN")
    arn = STACK_ARN.fullmatch(name)
    region = arn.group("region") if arn else spec.region
    if spec.region and region != spec.region:
        raise ConfigError(f"{spec.stack_id}.{spec.part} is in {spec.region}, but {name} names a stack in {region}")
    located = StackSpec(spec.stack_id, spec.parameters, spec.template_path, region, spec.part)
    cfn = backend.client("cloudformation", region=region)
    with _refusal(f"reading stack {name}", name, BackendError):
        found = guards.describe_stack(cfn, name)  # refused when missing or not complete
    return read_stack(backend, located, found["StackId"], adopted=True)


def read_stack(backend: Backend, spec: StackSpec, stack_id: str, *, adopted: bool = False) -> DeployedStack:
    """Outputs, resources, and the template and parameter values CloudFormation holds for the stack."""
    cfn = backend.client("cloudformation", region=spec.region)
    with _refusal(f"reading stack {stack_id}", stack_id, DeployError):
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        resources: dict[str, tuple[str, str]] = {}
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
            for row in page["StackResourceSummaries"]:
                if row.get("LogicalResourceId"):
                    resources[row["LogicalResourceId"]] = (row["ResourceType"], row.get("PhysicalResourceId", ""))
        body = cfn.get_template(StackName=stack_id, TemplateStage="Original")["TemplateBody"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: str(p.get("ResolvedValue", p.get("ParameterValue", "")))
                  for p in stack.get("Parameters", [])}
    template = body if isinstance(body, dict) else load_template_text(str(body), stack["StackName"])
    return DeployedStack(spec, stack["StackName"], stack["StackId"], outputs, resources, template,
                         {**parameters, **{k: str(v) for k, v in spec.parameters.items() if k not in parameters}},
                         spec.region or backend.region, adopted)


def delete(backend: Backend, stack: DeployedStack, *, timeout_s: float = 1800.0) -> None:
    """Delete a stack this run deployed and confirm DELETE_COMPLETE; an adopted stack is left alone."""
    if stack.adopted:
        log.info("not deleting %s: it is an existing stack the game day ran against", stack.name)
        return
    cfn = backend.client("cloudformation", region=stack.spec.region)
    with _refusal(f"delete_stack {stack.name} refused", stack.name, DeployError):
        cfn.delete_stack(StackName=stack.stack_arn)
    _wait(backend, cfn, "stack_delete_complete", stack.stack_arn, stack.name, timeout_s)
    with _refusal(f"confirming the deletion of {stack.name}", stack.name, DeployError):
        final = cfn.describe_stacks(StackName=stack.stack_arn)["Stacks"][0]["StackStatus"]
    if final != "DELETE_COMPLETE":
        raise DeployError(f"stack {stack.name} not deleted: {final}", stack=stack.name)


def _poll_s(backend: Backend) -> int:
    """The waiter's delay: a second against an endpoint on this machine, AWS's own 15 s otherwise."""
    return 1 if is_loopback(backend.endpoint_url) else 15


def _wait(backend: Backend, cfn: Any, waiter_name: str, stack_id: str, name: str, timeout_s: float) -> None:
    from botocore.exceptions import BotoCoreError, WaiterError

    delay = _poll_s(backend)
    try:
        cfn.get_waiter(waiter_name).wait(StackName=stack_id, WaiterConfig={
            "Delay": delay, "MaxAttempts": max(1, math.ceil(timeout_s / delay))})
    except WaiterError as exc:
        raise DeployError(f"stack {name}: {waiter_name.replace('_', ' ')} failed: {_failure_reason(cfn, stack_id)} "
                          f"({guards.one_line(exc)})", stack=name) from None
    except BotoCoreError as exc:
        raise DeployError(f"stack {name}: {waiter_name.replace('_', ' ')}: {guards.one_line(exc)}",
                          stack=name) from None


def _failure_reason(cfn: Any, stack_id: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    except Exception:  # the reason is a courtesy; the failure is reported either way
        return "no reason available"
    failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
              if str(e.get("ResourceStatus", "")).endswith("FAILED")]
    return guards.one_line("; ".join(failed[-3:])) or "no resource failure recorded"


@contextmanager
def _refusal(what: str, stack: str, error_type: type[ConfigError | DeployError | BackendError]) -> Iterator[None]:
    """botocore's errors inside become one-line `error_type(what: ...)`."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        message = f"{what}: {guards.one_line(exc)}"
        raise (DeployError(message, stack=stack) if error_type is DeployError else error_type(message)) from exc




def stack_config(stack_id: str, stack: DeployedStack | None = None, template: Path | None = None) -> StackConfig:
    """The deployed stack's template and parameters as CloudFormation holds them; without a stack, the
    template at `template` (default: the reference stack's own) and its defaults."""
    if stack is not None:
        body = stack.template or load_template(stack.spec.template)
        return StackConfig(stack_id, body, {**stack.spec.parameters, **stack.parameters})
    return StackConfig(stack_id, load_template(template or STACKS_DIR / stack_id / "template.yaml"), {})
