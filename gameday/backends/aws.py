"""The aws backend: real AWS through the standard credential chain (or any AWS-compatible endpoint).

Nothing is touched before STS says the caller's account is allowed (`--allow-account` / gameday.toml),
and every fault target passes the blast-radius guard: the stacks this run deployed (tagged
`gameday:run=<run-id>`) or the one named with `--existing-stack`, which is never deployed or deleted.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday import guards
from gameday.backends.base import LocalcloudControl, Resolver, is_loopback
from gameday.errors import BackendError, ConfigError
from gameday.options import OPTIONS
from gameday.stacks import STACK_ARN
from gameday.timeline import Event

log = logging.getLogger(__name__)

_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}|" + STACK_ARN.pattern)
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")


@dataclass(frozen=True)
class AwsOptions:
    region: str
    endpoint_url: str | None = None  # an AWS-compatible endpoint (moto, localcloud) instead of AWS itself
    profile_name: str | None = None  # a named profile of the shared config; None: the default chain
    allow_accounts: frozenset[str] = frozenset()
    existing_stacks: tuple[str, ...] = ()  # names or ARNs: the blast radius instead of the run's own stacks
    run_id: str | None = None
    profile: str = "realistic"  # the time profile budgets and predictions are judged against
    resolvers: tuple[Resolver, ...] = ()  # --resolver; none: the hosted zones' name servers and the system's
    fis_role_arn: str | None = None  # --fis-role-arn: the role FIS assumes for the faults it injects
    # Only `gameday rollback` of a localcloud journal sets this: an offline endpoint on loopback.
    any_account_on_loopback: bool = False

    @classmethod
    def resolve(cls, *, region: str | None = None, endpoint_url: str | None = None,
                profile_name: str | None = None, allow_accounts: Sequence[str] = (),
                existing_stacks: Sequence[str] = (), run_id: str | None = None,
                config: Path | None = None, profile: str = "realistic",
                resolvers: Sequence[Resolver] = (), fis_role_arn: str | None = None) -> AwsOptions:
        """Options from the command line over gameday.toml's [aws] over the environment, all checked."""
        settings = guards.load_config(config)
        chosen = region or settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not chosen:
            raise ConfigError("no AWS region: pass --region (or set region in [aws] of gameday.toml, or AWS_REGION)")
        for name in existing_stacks:
            if not _STACK_NAME.fullmatch(name):
                raise ConfigError(f"--existing-stack: {guards.one_line(name)[:60]!r} is not a stack name or ARN")
        return cls(region=guards.check_region(chosen), endpoint_url=check_endpoint(endpoint_url),
                   profile_name=check_profile(profile_name),
                   allow_accounts=guards.parse_accounts(allow_accounts) | settings.allow_accounts,
                   existing_stacks=tuple(existing_stacks), run_id=run_id, profile=profile,
                   resolvers=tuple(resolvers), fis_role_arn=fis_role_arn)


def add_aws_options(add: Callable[..., Any], *, existing_stack: bool = True) -> None:
    """Declare the aws backend's options with `add` (argparse's add_argument or pytest's addoption)."""
    for option in OPTIONS:
        skipped = ("--resolver",) if existing_stack else ("--resolver", "--existing-stack")
        if option.group == "aws" and option.flag not in skipped:
            add(option.flag, **option.kwargs)


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


class AwsBackend:
    """`Backend` on AWS. The constructor checks the account; nothing else happens until a client is used."""

    name = "aws"
    control: LocalcloudControl | None = None  # no localcloud control API on AWS

    def __init__(self, options: AwsOptions, *, resolvers: Sequence[Resolver] = (), session: Any = None) -> None:
        self.options = options
        self.region = options.region
        # Numbers measured on AWS itself, judged against this profile's budgets and predictions.
        self.profile = options.profile
        self._resolvers: tuple[Resolver, ...] | None = tuple(resolvers or options.resolvers) or None
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
        """--resolver as given; otherwise the name servers of the hosted zones in the blast radius (the
        authoritative view) and this machine's resolver (the caching view clients get)."""
        with self._lock:
            if self._resolvers is not None:
                return list(self._resolvers)
        found = tuple(default_resolvers(self))
        with self._lock:
            self._resolvers = found
        return list(found)

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
        if self.options.existing_stacks:
            scopes = [guards.stack_scope(self._cfn_for(name), [name], run_ids) for name in self.options.existing_stacks]
            return guards.merge_scopes(scopes)
        if self.options.run_id:
            return guards.run_scope(cfn, self.options.run_id)
        return guards.Scope()

    def _cfn_for(self, stack: str) -> Any:
        """A stack named by ARN lives in the ARN's region; a name, in the backend's."""
        arn = STACK_ARN.fullmatch(stack)
        return self.client("cloudformation", region=arn.group("region") if arn else None)

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


# --- where to ask DNS when no --resolver is given ---

def default_resolvers(backend: AwsBackend) -> list[Resolver]:
    """The delegation set of every hosted zone of the stacks in scope (authoritative), then the first
    nameserver of /etc/resolv.conf (caching). Names that do not resolve are left out, with a warning."""
    if is_loopback(backend.endpoint_url):  # a stand-in account's DNS servers are its own: name them
        log.warning("no --resolver given for the endpoint %s: no DNS server to probe", backend.endpoint_url)
        return []
    found: list[Resolver] = []
    route53 = backend.client("route53")
    scope = backend.scope()
    zones = sorted({physical for physical, _ in scope.resources.items() if physical.startswith("Z")})
    for zone in zones:
        try:
            servers = route53.get_hosted_zone(Id=zone).get("DelegationSet", {}).get("NameServers", [])
        except Exception as exc:  # not a hosted zone after all, or no right to read it
            log.debug("no delegation set for %s: %s", zone, exc)
            continue
        for server in servers[:1]:  # one of the four is the authoritative view; more only add load
            try:
                address = socket.getaddrinfo(server, 53, proto=socket.IPPROTO_UDP)[0][4][0]
            except OSError as exc:
                log.warning("name server %s of %s does not resolve: %s", server, zone, exc)
                continue
            found.append(Resolver(f"authoritative-{len(found) + 1}" if found else "authoritative", str(address),
                                  53, "authoritative"))
    system = _system_resolver()
    if system is not None:
        found.append(Resolver("caching", system, 53, "caching"))
    return found


def _system_resolver(path: Path = Path("/etc/resolv.conf")) -> str | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            return fields[1]
    return None
