"""`gameday rollback`: replay every unfinished revert of a rollback journal (e.g. after the runner was
killed with SIGKILL). Needs only the journal; where to act (region, endpoint, account) is recorded in it
and can be overridden. Idempotent: a second rollback finds nothing left to do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameday import guards
from gameday.backends.aws import AwsBackend, AwsOptions, add_aws_options, check_endpoint, check_profile
from gameday.backends.base import Backend
from gameday.errors import ConfigError, RevertFailed
from gameday.faults.journal import RollbackJournal
from gameday.faults.replay import replay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", action="append", default=[], metavar="FILE",
                        help="journal to replay (repeatable; default: every reports/*/rollback.jsonl "
                             "with unfinished reverts)")
    parser.add_argument("--report-dir", default="reports", help="where to look for journals (default: reports)")
    parser.add_argument("--dry-run", action="store_true", help="list the reverts that would run; change nothing")
    parser.add_argument("--config", default=None, metavar="FILE", help="gameday.toml to read [aws] from")
    add_aws_options(parser.add_argument, existing_stack=False)


def main(args: argparse.Namespace) -> int:
    journals, damaged = _journals(args)
    config = guards.load_config(Path(args.config) if args.config else None)
    allowed = guards.parse_accounts(args.allow_account) | config.allow_accounts
    region = guards.check_region(args.region) if args.region else None
    endpoint = check_endpoint(args.endpoint_url)
    profile = check_profile(args.aws_profile)

    def connect(ref: Mapping[str, Any]) -> Backend:
        return _connect(ref, region=region, endpoint=endpoint, profile=profile, allowed=allowed)

    for path in journals:  # every journal's accounts pass the guard before any journal is replayed
        for entry in RollbackJournal(path).unfinished():
            allowed_accounts(entry.backend, allowed)
    outcomes = []
    for path in journals:
        try:
            found = replay(RollbackJournal(path), connect, dry_run=args.dry_run)
        except OSError as exc:  # the journal could not be written: what was reverted is not recorded
            raise RevertFailed(f"journal {str(path)[:200]!r}: {guards.one_line(exc)}") from None
        for outcome in found:
            print(outcome.line())
        outcomes += found
    if not outcomes:
        if damaged:
            raise _damaged(damaged, len(journals))
        print(f"nothing to roll back ({len(journals)} journal(s) read, no unfinished revert)")
        return 0
    refused = [o for o in outcomes if o.status == "refused"]
    if refused:  # left in the journal, unreplayed; the other reverts ran
        raise guards.Refused(f"{len(refused)} of {len(outcomes)} revert(s) refused and left in the journal "
                             f"(first: {refused[0].entry.fault} on {refused[0].entry.target}: {refused[0].message})")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise RevertFailed(f"{len(failed)} of {len(outcomes)} revert(s) failed and stay in the journal "
                           f"(first: {failed[0].entry.fault} on {failed[0].entry.target}: {failed[0].message})")
    verb = "would revert" if args.dry_run else "rolled back"
    print(f"{verb} {len(outcomes)} fault(s) from {len(journals)} journal(s)")
    if damaged:
        raise _damaged(damaged, len(journals))
    return 0


def _journals(args: argparse.Namespace) -> tuple[list[Path], list[str]]:
    """The journals to replay, and one line per damaged journal found by the scan of --report-dir.

    A journal named with --journal must be whole (a damaged one is refused, exit 2); a scan skips a damaged
    journal so that one bad file does not keep the others' faults in place, and reports it."""
    try:
        if args.journal:
            paths = [Path(p) for p in args.journal]
            for path in paths:
                if not path.is_file():
                    raise ConfigError(f"journal {str(path)[:200]!r} not found")
                RollbackJournal(path).entries()  # readable and whole, before anything is reverted
            return paths, []
        found = sorted(Path(args.report_dir).glob("*/rollback.jsonl"))
    except (OSError, ValueError) as exc:  # unreadable, or a NUL byte in a path
        raise ConfigError(f"cannot read journals: {guards.one_line(exc)}") from None
    paths, damaged = [], []
    for path in found:
        try:
            if RollbackJournal(path).unfinished():
                paths.append(path)
        except ConfigError as exc:
            damaged.append(str(exc))
            print(f"gameday rollback: skipped: {exc}", file=sys.stderr)
    return paths, damaged


def _damaged(damaged: list[str], replayed: int) -> ConfigError:
    return ConfigError(f"{len(damaged)} damaged journal(s) not replayed (first: {damaged[0]}); "
                       f"{replayed} other journal(s) replayed")


def _connect(ref: Mapping[str, Any], *, region: str | None, endpoint: str | None, profile: str | None,
             allowed: frozenset[str]) -> Backend:
    """The backend a journal entry was injected on (options override the recorded coordinates), with the
    blast radius the journal records: the run's exact tag and stacks, or the stacks it named."""
    local = ref.get("name") == "localcloud"
    accounts = allowed_accounts(ref, allowed)
    if local and not (endpoint or ref.get("endpoint_url")):
        raise ConfigError("the journal records a localcloud fault without its endpoint: pass --endpoint-url")
    chosen_region = region or ref.get("region")
    if not chosen_region:
        raise ConfigError("the journal records no region: pass --region")
    run_id, existing = _recorded_scope(ref)
    options = AwsOptions(region=guards.check_region(chosen_region, "journal region"),
                         endpoint_url=endpoint or check_endpoint(ref.get("endpoint_url")),
                         profile_name=profile, allow_accounts=accounts, run_id=run_id, existing_stacks=existing,
                         any_account_on_loopback=local and not ref.get("account"))
    session = None
    if local:  # localcloud takes any credentials; don't depend on a credential chain for it
        import boto3

        session = boto3.session.Session(aws_access_key_id="localcloud", aws_secret_access_key="localcloud",
                                        region_name=options.region)
    return AwsBackend(options, session=session)


def allowed_accounts(ref: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    """The one account a journal entry may be replayed in: recorded in the journal AND allowed by the current
    configuration (--allow-account, [aws] allow_accounts). A journal is data anyone could write, so its
    recorded account alone allows nothing. A localcloud journal (on loopback, disposable) needs no list."""
    recorded = ref.get("account") or None
    if recorded is not None:
        parsed = guards.parse_accounts([recorded], "the journal's account")
        if len(parsed) != 1:
            raise ConfigError(f"the journal's account {guards.one_line(recorded)[:60]!r} is not one account id")
        recorded = next(iter(parsed))
    if ref.get("name") == "localcloud":
        if recorded and allowed and recorded not in allowed:
            raise guards.AccountRefused(f"refused: the journal's faults were injected in account {recorded}, "
                                        f"which is not an allowed account ({', '.join(sorted(allowed))})")
        return frozenset({recorded}) if recorded else allowed
    if not allowed:
        hint = f" {recorded}" if recorded else " ACCOUNT"
        raise guards.AccountRefused(f"refused: no account is allowed by the configuration, and a journal's recorded "
                                    f"account allows nothing by itself: pass --allow-account{hint} or list it in "
                                    "[aws] allow_accounts of gameday.toml")
    if recorded is None:
        return allowed  # the credentials' account must still be one of these (checked on connect)
    if recorded not in allowed:
        raise guards.AccountRefused(f"refused: the journal's faults were injected in account {recorded}, "
                                    f"which is not an allowed account ({', '.join(sorted(allowed))})")
    return frozenset({recorded})


def _recorded_scope(ref: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """The run id and named stacks the journal records as the blast radius (checked: they become options)."""
    run_id, existing = ref.get("run_id"), ref.get("existing_stacks") or ""
    if run_id is not None and not (isinstance(run_id, str) and run_id):
        raise ConfigError(f"the journal's run_id {guards.one_line(run_id)[:60]!r} is not a run id")
    if not isinstance(existing, str):
        raise ConfigError("the journal's existing_stacks is not a comma-separated list of stack names")
    return run_id, tuple(name for name in existing.split(",") if name)
