"""The game day's options, declared once for both faces: `gameday run` (argparse) and the pytest children it
starts (pytest's addoption). `forward()` turns the parent's parsed options back into the child's argv from
the same declarations, so an option cannot reach one face and not the other.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gameday.budgets import DEFAULT_CONFIG
from gameday.errors import ConfigError
from localcloud import profiles


@dataclass(frozen=True)
class Option:
    flag: str
    group: str  # where | what | how | aws
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    forwarded: bool = True  # passed on to the pytest children (False: the parent alone uses it)

    @property
    def dest(self) -> str:
        return str(self.kwargs.get("dest", self.flag.lstrip("-").replace("-", "_")))


OPTIONS: tuple[Option, ...] = (
    Option("--backend", "where", {"choices": ("local", "aws"), "default": "local",
                                  "help": "where the stacks run (default: local, i.e. localcloud, offline)"}),
    Option("--profile", "where", {"default": None, "help": (
        f"time profile the budgets and predictions are judged against: {', '.join(profiles.available())} "
        "(default: fast on localcloud, realistic on aws); on localcloud it also sets localcloud's delays")}),
    Option("--seed", "where", {"type": int, "default": None, "help": "seed for localcloud's jittered delays"}),
    Option("--stacks-dir", "what", {"default": None, "metavar": "DIR",
                                    "help": "also load a team's own stack kits from DIR/<folder>/kit.py"}),
    Option("--param", "what", {"action": "append", "default": [], "metavar": "STACK.KEY=VALUE",
                               "help": "deploy STACK with template parameter KEY=VALUE (repeatable); the "
                                       "prediction reads the deployed value too"}),
    Option("--repeat", "what", {"type": int, "default": 1, "metavar": "N",
                                "help": "run every scenario N times and report p50/p95/max (default: 1)"}),
    Option("--load", "what", {"choices": ("none", "steady", "10x", "soak"), "default": "none",
                              "help": "run every scenario under locust load of this shape (default: none)"}),
    Option("--load-users", "what", {"type": int, "default": None, "metavar": "N",
                                    "help": "normal number of load users (default 10; 10x steps to ten times)"}),
    Option("--load-rate", "what", {"type": float, "default": None, "metavar": "RPS",
                                   "help": "normal requests per second over all users (default 50)"}),
    Option("--load-duration", "what", {"type": float, "default": None, "metavar": "SECONDS",
                                       "help": "upper bound: the load stops by itself after this long"}),
    Option("--load-processes", "what", {"type": int, "default": None, "metavar": "N",
                                        "help": "locust processes on this host (default 1)"}),
    Option("--budgets", "how", {"default": str(DEFAULT_CONFIG), "metavar": "TOML",
                                "help": "budgets file (default: gameday.toml)"}),
    Option("--run-id", "how", {"default": None, "help": "run id (default: UTC timestamp + random suffix)"}),
    Option("--report-dir", "how", {"default": "reports", "help": "where reports/<run-id>/ goes (default: reports)"}),
    Option("--history", "how", {"default": None, "metavar": "PATH|s3://BUCKET/PREFIX",
                                "help": "keep the game days' history there (default: <report-dir>/history.jsonl); on "
                                        "S3 one object per run under the prefix, with --endpoint-url and --region"},
           forwarded=False),
    Option("--window", "how", {"action": "append", "default": [], "metavar": "'DAYS HH:MM-HH:MM [ZONE]'",
                               "help": "only start inside this window, e.g. 'Mon-Fri 09:00-16:00 Europe/Berlin' "
                                       "(repeatable; default: [schedule] windows of the budgets file, else any time)"},
           forwarded=False),
    Option("--region", "aws", {"default": None,
                               "help": "AWS region (default: [aws] region in gameday.toml, then AWS_REGION)"}),
    Option("--endpoint-url", "aws", {"default": None, "metavar": "URL",
                                     "help": "talk to this AWS-compatible endpoint instead of AWS (moto, localcloud)"}),
    Option("--aws-profile", "aws", {"default": None, "metavar": "NAME",
                                    "help": "named profile of the AWS shared config"}),
    Option("--allow-account", "aws", {"action": "append", "default": [], "metavar": "ID",
                                      "help": "AWS account id the game day may touch (repeatable; also [aws] "
                                              "allow_accounts in gameday.toml)"}),
    Option("--existing-stack", "aws", {"action": "append", "default": [], "metavar": "[STACK[.PART]=]NAME",
                                       "help": "run against this deployed stack (name or ARN; never deployed or "
                                               "deleted by gameday); a kit of several stacks names each part, "
                                               "e.g. origin-group.replica=ARN (repeatable)"}),
    Option("--resolver", "aws", {"action": "append", "default": [], "metavar": "NAME=HOST[:PORT]",
                                 "help": "a DNS server to probe (repeatable; a NAME containing 'auth' is the "
                                         "authoritative view, vpc-<id> a VPC's own DNS server for private "
                                         "zones, others caching). Default on aws: the hosted zone's name "
                                         "servers and this machine's resolver"}),
    Option("--fis-role-arn", "aws", {"default": None, "metavar": "ARN",
                                     "help": "IAM role AWS FIS assumes to inject the Spot faults (required on AWS; "
                                             "an endpoint on loopback, localcloud, needs none)"}),
)


def add_options(add: Callable[..., Any], groups: Iterable[str] | None = None) -> None:
    """Declare the options with `add` (argparse's add_argument or pytest's addoption)."""
    for option in OPTIONS:
        if groups is None or option.group in groups:
            add(option.flag, **option.kwargs)


def add_to_parser(parser: argparse.ArgumentParser) -> None:
    titles = {"where": "where", "what": "what", "how": "how", "aws": "aws backend"}
    for group, title in titles.items():
        add_options(parser.add_argument_group(title).add_argument, [group])


def forward(values: Mapping[str, Any], *, skip: Sequence[str] = ()) -> list[str]:
    """The child's argv for the forwarded options whose value differs from the declared default."""
    argv: list[str] = []
    for option in OPTIONS:
        if not option.forwarded or option.flag in skip:
            continue
        value = values.get(option.dest)
        if value is None or value == option.kwargs.get("default"):
            continue
        action = option.kwargs.get("action")
        if action == "store_true":
            argv.append(option.flag)
        elif action == "append":
            for item in value:
                argv += [option.flag, str(item)]
        else:
            argv += [option.flag, str(value)]
    return argv


# --- parsing the values both faces share ---

_ADDRESS = re.compile(r"\[(?P<v6>[0-9A-Fa-f:.]+)\](:(?P<p6>\d{1,5}))?|(?P<host>[^:\[\]]+)(:(?P<port>\d{1,5}))?")
_PART = re.compile(r"(?P<stack>[a-z0-9][a-z0-9-]*)(\.(?P<part>[A-Za-z0-9+_.-]+))?")


def parse_params(values: Sequence[str], known: Sequence[str]) -> dict[str, dict[str, str]]:
    """`STACK.KEY=VALUE` per stack; a stack that does not exist or a malformed value is a usage error."""
    found: dict[str, dict[str, str]] = {}
    for value in values:
        target, dot, assignment = value.partition(".")
        key, eq, setting = assignment.partition("=")
        if not (dot and eq and key):
            raise ConfigError(f"--param {value[:80]!r}: expected STACK.KEY=VALUE")
        if target not in known:
            raise ConfigError(f"--param {value[:80]!r}: unknown stack {target!r} (available: {', '.join(known)})")
        found.setdefault(target, {})[key] = setting
    return found


def parse_existing(values: Sequence[str], stacks: Sequence[str]) -> dict[str, dict[str, str]]:
    """`--existing-stack` per stack and part: `NAME` (the one selected stack's main part), `STACK=NAME` or
    `STACK.PART=NAME`."""
    found: dict[str, dict[str, str]] = {}
    for value in values:
        where, eq, name = value.partition("=")
        if not eq:
            if len(stacks) != 1:
                raise ConfigError(f"--existing-stack {value[:80]!r}: name the stack it belongs to "
                                  f"(STACK=NAME or STACK.PART=NAME) when more than one stack runs")
            where, name = stacks[0], value
        matched = _PART.fullmatch(where)
        if not matched or not name:
            raise ConfigError(f"--existing-stack {value[:80]!r}: expected NAME, STACK=NAME or STACK.PART=NAME")
        stack, part = matched.group("stack"), matched.group("part") or "main"
        if stack not in stacks:
            raise ConfigError(f"--existing-stack {value[:80]!r}: stack {stack!r} is not one this run plays "
                              f"({', '.join(stacks)})")
        if part in found.get(stack, {}):
            raise ConfigError(f"--existing-stack: {stack}.{part} named twice")
        found.setdefault(stack, {})[part] = name
    return found


def parse_resolvers(values: Sequence[str]) -> list[tuple[str, str, int]]:
    """`NAME=HOST[:PORT]` (IPv6 in brackets) -> (name, host, port)."""
    found: list[tuple[str, str, int]] = []
    for value in values:
        name, eq, address = value.partition("=")
        matched = _ADDRESS.fullmatch(address)
        if not eq or not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) or not matched:
            raise ConfigError(f"--resolver {value[:80]!r}: expected NAME=HOST[:PORT] (NAME lowercase letters, "
                              f"digits, hyphens)")
        host = matched.group("v6") or matched.group("host")
        port = int(matched.group("p6") or matched.group("port") or 53)
        if not 0 < port < 65536:
            raise ConfigError(f"--resolver {value[:80]!r}: port {port} out of range")
        if any(name == seen for seen, _, _ in found):
            raise ConfigError(f"--resolver: {name} named twice")
        found.append((name, host, port))
    return found


def resolver_kind(name: str) -> str:
    """What a `--resolver` name says it is: `vpc` or `vpc-<id>` a VPC's own DNS server (private zones),
    a name with `auth` in it the authoritative view, anything else a caching resolver clients sit behind."""
    if name == "vpc" or name.startswith("vpc-"):
        return "vpc"
    return "authoritative" if "auth" in name else "caching"


def judged_profile(backend: str, profile: str | None) -> str:
    """On aws the numbers are judged against the realistic profile unless --profile says otherwise."""
    chosen = profile or ("realistic" if backend == "aws" else "fast")
    if chosen not in profiles.available():
        raise ConfigError(f"unknown time profile {chosen!r} (available: {', '.join(profiles.available())})")
    return chosen
