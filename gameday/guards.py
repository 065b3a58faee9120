"""Guards: what a game day may touch. Nothing is touched in an account that is not allowed, and no fault
touches a resource outside the blast radius: the deployed (or named) stack and what carries the run's tag.

Every refusal is a `Refused` (a `ConfigError`: one line on stderr, exit 2) that says exactly why.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.errors import ConfigError
from gameday.faults.plan import FaultPlan, Target

RUN_TAG = "gameday:run"
STACK_NAME_TAG = "aws:cloudformation:stack-name"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "gameday.toml"
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_CONFIG_KEYS = {"allow_accounts", "region"}
_USABLE_STACK = re.compile(r"^(CREATE|UPDATE|IMPORT|UPDATE_ROLLBACK|IMPORT_ROLLBACK)_COMPLETE$")


class Refused(ConfigError):
    """A guard said no; nothing was changed."""


class AccountRefused(Refused):
    """The credentials belong to an account the game day may not touch."""


class TargetRefused(Refused):
    """A fault target lies outside the blast radius."""


def one_line(text: object) -> str:
    return " ".join(str(text).split())


# --- configuration: [aws] in gameday.toml ---

@dataclass(frozen=True)
class AwsConfig:
    allow_accounts: frozenset[str] = frozenset()
    region: str | None = None


def load_config(path: Path | None = None) -> AwsConfig:
    """The `[aws]` table of gameday.toml (or `path`). A missing default file is an empty config."""
    source = path or DEFAULT_CONFIG
    try:
        data = tomllib.loads(source.read_text())
    except FileNotFoundError:
        if path is None:
            return AwsConfig()
        raise ConfigError(f"config file {str(source)[:200]!r} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the path
        raise ConfigError(f"cannot read config {str(source)[:200]!r}: {one_line(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {one_line(exc)}") from None
    table = data.get("aws", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [aws] must be a table")
    unknown = sorted(set(table) - _CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key aws.{unknown[0]} (known: {', '.join(sorted(_CONFIG_KEYS))})")
    accounts = table.get("allow_accounts", [])
    if not isinstance(accounts, list):
        raise ConfigError(f"{source}: aws.allow_accounts must be a list of 12-digit account ids")
    region = table.get("region")
    if region is not None:
        region = check_region(region, f"{source}: aws.region")
    return AwsConfig(parse_accounts(accounts, f"{source}: aws.allow_accounts"), region)


def parse_accounts(values: Iterable[object], source: str = "--allow-account") -> frozenset[str]:
    """Account ids from the command line (repeatable, or comma-separated) or the config, checked."""
    accounts: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {value!r} is not a 12-digit AWS account id (write it as a string)")
        for part in value.split(","):
            part = part.strip()
            if not _ACCOUNT.fullmatch(part):
                raise ConfigError(f"{source}: {one_line(part)[:40]!r} is not a 12-digit AWS account id")
            accounts.add(part)
    return frozenset(accounts)


def check_region(value: object, source: str = "--region") -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ConfigError(f"{source}: {one_line(value)[:40]!r} is not an AWS region name (like us-east-1)")
    return value


# --- the account guard ---

def check_account(account: str, caller_arn: str, allowed: Collection[str]) -> None:
    """Refuse unless the caller's account (from STS) is explicitly allowed."""
    if not allowed:
        raise AccountRefused(f"refused: no account is allowed; the credentials are for account {account} "
                             f"({caller_arn}): pass --allow-account {account} or list it in [aws] allow_accounts "
                             "of gameday.toml")
    if account not in allowed:
        raise AccountRefused(f"refused: the credentials are for account {account} ({caller_arn}), which is not "
                             f"an allowed account ({', '.join(sorted(allowed))})")


# --- the blast-radius guard ---

@dataclass(frozen=True)
class Scope:
    """What a run may touch: its stacks' resources, what they contain, and what carries its run tag."""

    stacks: tuple[str, ...] = ()
    resources: Mapping[str, str] = field(default_factory=dict)  # physical id (or ARN) -> stack name
    run_ids: frozenset[str] = frozenset()

    def owns(self, target: Target) -> str | None:
        """Why `target` is inside the blast radius, or None when it is not."""
        for rid in target.ids:
            if rid in self.resources:
                return f"a resource of stack {self.resources[rid]}"
        for parent in target.parents:
            if parent in self.resources:
                return f"inside {parent}, a resource of stack {self.resources[parent]}"
        if target.tags.get(STACK_NAME_TAG) in self.stacks:
            return f"tagged {STACK_NAME_TAG}={target.tags[STACK_NAME_TAG]}"
        if target.tags.get(RUN_TAG) in self.run_ids:
            return f"tagged {RUN_TAG}={target.tags[RUN_TAG]}"
        return None

    def describe(self) -> str:
        parts = [f"stack {s} ({sum(1 for v in self.resources.values() if v == s)} resources)" for s in self.stacks]
        parts += [f"resources tagged {RUN_TAG}={r}" for r in sorted(self.run_ids)]
        return " and ".join(parts) or "nothing"

    def refusal(self, fault: str, target: Target) -> str:
        if not self.stacks and not self.run_ids:
            return (f"refused: {fault} would touch {target.describe()}, but no stack is deployed or named "
                    "(--existing-stack) for this run, so nothing is in the blast radius")
        why = []
        if self.stacks:
            parents = f", nor is what contains it ({', '.join(target.parents)})" if target.parents else ""
            why.append(f"it is not a resource of {', '.join(self.stacks)}{parents}")
        wanted = [f"{STACK_NAME_TAG}={s}" for s in self.stacks] + [f"{RUN_TAG}={r}" for r in sorted(self.run_ids)]
        has = [f"{k}={target.tags[k]}" for k in (STACK_NAME_TAG, RUN_TAG) if k in target.tags]
        why.append(f"it is not tagged {' or '.join(wanted)}" + (f" (it has {', '.join(has)})" if has else ""))
        return (f"refused: {fault} would touch {target.describe()}, outside the blast radius "
                f"({self.describe()}): {', and '.join(why)}")


class BlastRadiusGuard:
    """Checks every target of a plan against the scope, read fresh (stacks change) at each check."""

    def __init__(self, scope: Callable[[], Scope]) -> None:
        self._scope = scope

    def explain(self, plan: FaultPlan) -> list[tuple[Target, str | None, str]]:
        """(target, why it is inside or None, the refusal when outside) for every target."""
        scope = self._scope()
        return [(t, scope.owns(t), scope.refusal(plan.fault, t)) for t in plan.targets]

    def check(self, plan: FaultPlan) -> None:
        if not plan.targets:
            raise TargetRefused(f"refused: {plan.fault} names no target, so its blast radius cannot be checked")
        for _, inside, refusal in self.explain(plan):
            if inside is None:
                raise TargetRefused(refusal)


def stack_scope(cfn: Any, stack_names: Iterable[str], run_ids: Iterable[str] = ()) -> Scope:
    """The scope of the named stacks (each must exist and be usable) plus the given run tags."""
    names: list[str] = []
    resources: dict[str, str] = {}
    for name in stack_names:
        stack = describe_stack(cfn, name)
        names.append(stack["StackName"])
        resources.update({rid: stack["StackName"] for rid in stack_resource_ids(cfn, stack["StackId"])})
    return Scope(tuple(names), resources, frozenset(run_ids))


def merge_scopes(scopes: Iterable[Scope]) -> Scope:
    """One scope over several (stacks adopted in different regions)."""
    found = list(scopes)
    return Scope(tuple(name for s in found for name in s.stacks),
                 {rid: name for s in found for rid, name in s.resources.items()},
                 frozenset().union(*(s.run_ids for s in found)))


def run_scope(cfn: Any, run_id: str) -> Scope:
    """The stacks this run deployed and its tag. Every deploy of a game day, whatever the suffix of its name
    (`-sih`, `-replica`), is tagged `gameday:run` with the game day's exact run id; only an exact match counts,
    so a run `r5` never takes a stack of a run `r5-x1` (or `r50`) as its own."""
    names: list[str] = []
    for page in cfn.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            value = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}.get(RUN_TAG, "")
            if value == run_id and _USABLE_STACK.fullmatch(stack["StackStatus"]):
                names.append(stack["StackName"])
    return stack_scope(cfn, names, [run_id])


def describe_stack(cfn: Any, name: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        raise Refused(f"refused: stack {name!r} not found ({one_line(exc)})") from None
    if not stacks or not _USABLE_STACK.fullmatch(stacks[0]["StackStatus"]):
        status = stacks[0]["StackStatus"] if stacks else "missing"
        raise Refused(f"refused: stack {name!r} is {status}, not a complete stack")
    return dict(stacks[0])


def stack_resource_ids(cfn: Any, stack_id: str) -> set[str]:
    ids: set[str] = set()
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for row in page["StackResourceSummaries"]:
            if row.get("PhysicalResourceId"):
                ids.add(str(row["PhysicalResourceId"]))
    return ids
