"""The aws backend: real AWS through the standard credential chain (or any AWS-compatible endpoint).

Nothing is touched before STS says the caller's account is allowed (`--allow-account` / gameday.toml),
and every fault target passes the blast-radius guard: the stacks this run deployed (tagged
`gameday:run=<run-id>`) or the one named with `--existing-stack`, which is never deployed or deleted.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday import guards
from gameday.backends.base import Resolver
from gameday.errors import BackendError, ConfigError, DeployError
from gameday.stacks import DeployedStack, StackSpec, available_stacks, create_request, stack_name
from gameday.timeline import Event

log = logging.getLogger(__name__)

_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}"
                         r"|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:[0-9]{12}:stack/[A-Za-z0-9/._-]+")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


@dataclass(frozen=True)
class AwsOptions:
    region: str
    endpoint_url: str | None = None  # an AWS-compatible endpoint (moto, localcloud) instead of AWS itself
    profile_name: str | None = None  # a named profile of the shared config; None: the default chain
    allow_accounts: frozenset[str] = frozenset()
    existing_stack: str | None = None
    run_id: str | None = None
    # Only `gameday rollback` of a localcloud journal sets this: an offline endpoint on loopback.
    any_account_on_loopback: bool = False

    @classmethod
    def resolve(cls, *, region: str | None = None, endpoint_url: str | None = None,
                profile_name: str | None = None, allow_accounts: Sequence[str] = (),
                existing_stack: str | None = None, run_id: str | None = None,
                config: Path | None = None) -> AwsOptions:
        """Options from the command line over gameday.toml's [aws] over the environment, all checked."""
        settings = guards.load_config(config)
        chosen = region or settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not chosen:
            raise ConfigError("no AWS region: pass --region (or set region in [aws] of gameday.toml, or AWS_REGION)")
        if existing_stack is not None and not _STACK_NAME.fullmatch(existing_stack):
            raise ConfigError(f"--existing-stack: {guards.one_line(existing_stack)[:60]!r} is not a stack name or ARN")
        return cls(region=guards.check_region(chosen), endpoint_url=check_endpoint(endpoint_url),
                   profile_name=check_profile(profile_name),
                   allow_accounts=guards.parse_accounts(allow_accounts) | settings.allow_accounts,
                   existing_stack=existing_stack, run_id=run_id)


def add_aws_options(add: Callable[..., Any], *, existing_stack: bool = True) -> None:
    """Declare the aws backend's options with `add` (argparse's add_argument or pytest's addoption)."""
    add("--region", default=None, help="AWS region (default: [aws] region in gameday.toml, then AWS_REGION)")
    add("--endpoint-url", default=None, metavar="URL",
        help="talk to this AWS-compatible endpoint instead of AWS (moto, localcloud)")
    add("--aws-profile", default=None, metavar="NAME", help="named profile of the AWS shared config")
    add("--allow-account", action="append", default=[], metavar="ID",
        help="AWS account id the game day may touch (repeatable; also [aws] allow_accounts in gameday.toml)")
    if existing_stack:
        add("--existing-stack", default=None, metavar="NAME",
            help="run against this deployed stack (never deployed or deleted by gameday) instead of deploying")


def check_profile(name: str | None) -> str | None:
    if name is not None and not _PROFILE_NAME.fullmatch(name):
        raise ConfigError(f"--aws-profile: {guards.one_line(name)[:40]!r} is not a profile name")
    return name


def check_endpoint(url: str | None) -> str | None:
    if url is None:
        return None
    parsed = urllib.parse.urlsplit(url) if url.isprintable() else None
    try:
        port_ok = parsed is not None and (parsed.port is None or parsed.port > 0)
    except ValueError:
        port_ok = False
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname or not port_ok:
        raise ConfigError(f"--endpoint-url: {guards.one_line(url)[:60]!r} is not an http(s) URL")
    return url.rstrip("/")


def is_loopback(url: str | None) -> bool:
    host = urllib.parse.urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AwsBackend:
    """`Backend` on AWS. The constructor checks the account; nothing else happens until a client is used."""

    name = "aws"
    profile = "aws"  # numbers from AWS itself, not from a localcloud time profile

    def __init__(self, options: AwsOptions, *, resolvers: Sequence[Resolver] = (), session: Any = None) -> None:
        self.options = options
        self.region = options.region
        self._resolvers = tuple(resolvers)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._session = session or _new_session(options)
        self.account_id, self.caller_arn = self._whoami()
        if not (options.any_account_on_loopback and is_loopback(options.endpoint_url)):
            guards.check_account(self.account_id, self.caller_arn, options.allow_accounts)
        self.target_guard = guards.BlastRadiusGuard(self.scope)
        log.info("aws backend: account %s, region %s%s", self.account_id, self.region,
                 f", endpoint {options.endpoint_url}" if options.endpoint_url else "")

    def __enter__(self) -> AwsBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str | None:
        return self.options.endpoint_url

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per service and region, reused (clients are thread-safe); closed by `close()`."""
        from botocore.config import Config

        key = (service, region or self.region)
        with self._lock:  # boto3 sessions are not thread-safe; the clients they make are
            if key not in self._clients:
                config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10,
                                read_timeout=60, inject_host_prefix=self.endpoint_url is None)
                self._clients[key] = self._session.client(service, region_name=key[1],
                                                          endpoint_url=self.endpoint_url, config=config)
            return self._clients[key]

    def resolvers(self) -> list[Resolver]:
        return list(self._resolvers)

    def ground_truth(self, since: float = 0.0) -> list[Event]:
        return []

    def close(self) -> None:
        """Close the clients' connections. Idempotent."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def scope(self) -> guards.Scope:
        """The blast radius now: the named stack, or the stacks of this run; plus the run's tag."""
        cfn = self.client("cloudformation")
        run_ids = [self.options.run_id] if self.options.run_id else []
        if self.options.existing_stack:
            return guards.stack_scope(cfn, [self.options.existing_stack], run_ids)
        if self.options.run_id:
            return guards.run_scope(cfn, self.options.run_id)
        return guards.Scope()

    def _whoami(self) -> tuple[str, str]:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)
        with self._lock:
            sts = self._session.client("sts", region_name=self.region, endpoint_url=self.endpoint_url, config=config)
        try:
            identity = sts.get_caller_identity()
        except (BotoCoreError, ClientError) as exc:
            raise BackendError(f"cannot tell which account the credentials belong to (sts get-caller-identity): "
                               f"{guards.one_line(exc)}") from None
        finally:
            sts.close()
        return str(identity["Account"]), str(identity.get("Arn", ""))


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """An AWS error from botocore becomes a one-line `BackendError` saying what was being done."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise BackendError(f"{what}: {guards.one_line(exc)}") from exc


def _new_session(options: AwsOptions) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(profile_name=options.profile_name, region_name=options.region)
    except BotoCoreError as exc:  # e.g. the named profile does not exist
        raise ConfigError(guards.one_line(exc)) from None


# --- stacks on AWS: CloudFormation with waiters; an existing stack is adopted, never deployed or deleted ---

def deploy_stack(backend: AwsBackend, spec: StackSpec, run_id: str, *, timeout_s: float = 1800.0) -> DeployedStack:
    """Create the stack (named and tagged for the run), wait with the CloudFormation waiter, read it back."""
    if backend.options.existing_stack:
        return adopt_stack(backend, backend.options.existing_stack, spec)
    if not spec.template.is_file():
        raise ConfigError(f"unknown stack {spec.stack_id!r} (available: {', '.join(available_stacks())})")
    from botocore.exceptions import BotoCoreError, ClientError

    cfn = backend.client("cloudformation")
    name = stack_name(run_id, spec.stack_id)
    try:
        created = cfn.create_stack(**create_request(spec, name, run_id))
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"create_stack {name} refused: {guards.one_line(exc)}", stack=name) from exc
    _wait(backend, cfn, "stack_create_complete", created["StackId"], name, timeout_s)
    with aws_errors(f"reading stack {name}"):
        return _read_stack(cfn, spec, created["StackId"])


def adopt_stack(backend: AwsBackend, name: str, spec: StackSpec | None = None) -> DeployedStack:
    """A long-lived stack named with --existing-stack, read as if deployed (it is never deleted)."""
    cfn = backend.client("cloudformation")
    with aws_errors(f"reading stack {name}"):
        stack = guards.describe_stack(cfn, name)
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        return _read_stack(cfn, spec or StackSpec(tags.get("gameday:stack", stack["StackName"])), stack["StackId"])


def delete_stack(backend: AwsBackend, stack: DeployedStack, *, timeout_s: float = 1800.0) -> None:
    """Delete a stack this run deployed and confirm DELETE_COMPLETE; an adopted stack is left alone."""
    if backend.options.existing_stack and stack.name == backend.options.existing_stack:
        log.info("not deleting %s: it is the existing stack the game day ran against", stack.name)
        return
    from botocore.exceptions import BotoCoreError, ClientError

    cfn = backend.client("cloudformation")
    try:
        cfn.delete_stack(StackName=stack.stack_arn)
    except (BotoCoreError, ClientError) as exc:
        raise DeployError(f"delete_stack {stack.name} refused: {guards.one_line(exc)}", stack=stack.name) from exc
    _wait(backend, cfn, "stack_delete_complete", stack.stack_arn, stack.name, timeout_s)
    with aws_errors(f"confirming the deletion of {stack.name}"):
        final = cfn.describe_stacks(StackName=stack.stack_arn)["Stacks"][0]["StackStatus"]
    if final != "DELETE_COMPLETE":
        raise DeployError(f"stack {stack.name} not deleted: {final}", stack=stack.name)


def _wait(backend: AwsBackend, cfn: Any, waiter_name: str, stack_id: str, name: str, timeout_s: float) -> None:
    from botocore.exceptions import BotoCoreError, WaiterError

    delay = 2 if backend.endpoint_url else 15
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


def _read_stack(cfn: Any, spec: StackSpec, stack_id: str) -> DeployedStack:
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources: dict[str, tuple[str, str]] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for row in page["StackResourceSummaries"]:
            resources[row["LogicalResourceId"]] = (row["ResourceType"], row.get("PhysicalResourceId", ""))
    return DeployedStack(spec, stack["StackName"], stack["StackId"], outputs, resources)
