"""`gameday export-fis SCENARIO`: write the equivalent AWS FIS experiment template (JSON).

Faults FIS has no action for, and stop conditions it cannot check, are listed on stderr, plainly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from gameday import guards
from gameday.errors import ConfigError
from gameday.fis import FisContext, export
from gameday.kits import load_kits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help="scenario id, or a stack id with one scenario (`gameday plan` lists them)")
    parser.add_argument("--stacks-dir", default=None, metavar="DIR", help="also a team's own kits from DIR")
    parser.add_argument("--stack-name", default=None, metavar="NAME",
                        help="CloudFormation stack the experiment targets, by its tags (default: the stack id)")
    parser.add_argument("--region", default="us-east-1", help="region for ARNs (default: us-east-1)")
    parser.add_argument("--account", default=None, metavar="ID", help="account id for ARNs (default: ACCOUNT_ID)")
    parser.add_argument("--role-arn", default=None, metavar="ARN", help="IAM role FIS assumes to run the experiment")
    parser.add_argument("--az", default=None, help="availability zone for zone faults whose scenario names none")
    parser.add_argument("--duration", default="PT5M", help="ISO 8601 duration of lasting actions (default: PT5M)")
    parser.add_argument("--alarm", action="append", default=[], metavar="NAME",
                        help="CloudWatch alarm that stops the experiment (repeatable)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the JSON here (default: stdout)")


def main(args: argparse.Namespace) -> int:
    scenarios = load_kits(args.stacks_dir).select([args.scenario])
    if len(scenarios) != 1:
        raise ConfigError(f"{args.scenario!r} names {len(scenarios)} scenarios; export one: "
                          f"{', '.join(s.scenario_id for s in scenarios)}")
    scenario = scenarios[0]
    context = FisContext(
        stack_name=str(_checked(args.stack_name or scenario.stack_id, r"[A-Za-z][A-Za-z0-9-]{0,127}",
                                "--stack-name")),
        region=guards.check_region(args.region),
        account=next(iter(guards.parse_accounts([args.account]))) if args.account else None,
        role_arn=_checked(args.role_arn, r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}",
                          "--role-arn"),
        az=_checked(args.az, r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}[a-z]", "--az"),
        duration=str(_checked(args.duration, r"PT([0-9]+H)?([0-9]+M)?([0-9]+S)?", "--duration")),
        alarms=tuple(str(_checked(a, r"[^\x00-\x1f:*?]{1,255}", "--alarm")) for a in args.alarm))
    exported = export(scenario, context)
    text = json.dumps(exported.template, indent=2) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {args.out[:200]!r}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    for fault, why in exported.unsupported:
        print(f"FIS cannot express fault {fault}: {why}", file=sys.stderr)
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _checked(value: str | None, pattern: str, option: str) -> str | None:
    if value is not None and not re.fullmatch(pattern, value):
        raise ConfigError(f"{option}: {guards.one_line(value)[:60]!r} is not valid")
    return value
