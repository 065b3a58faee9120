"""`gameday` command line: one module per subcommand, each with `add_arguments(parser)` and `main(args)`.

Bad input is one line on stderr and exit 2; a failed verdict is exit 1; a suite error is exit 3.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gameday.errors import ConfigError, GamedayError, SuiteError, SystemUnderTestFailed

EXIT_OK, EXIT_VERDICT, EXIT_USAGE, EXIT_SUITE = 0, 1, 2, 3

# name -> (module, one-line help). Modules are imported only when their subcommand runs.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("gameday.cli.run", "run the game day (scenarios) against a backend and write a report"),
    "report": ("gameday.cli.report", "render a run's report again, or the trends across game days (--history)"),
    "probe": ("gameday.cli.probe", "probe any endpoints on a fixed schedule and write a timeline"),
    "analyze": ("gameday.cli.analyze", "print phases and outage windows of a timeline file"),
    # issue 9: guards, rollback journal, FIS export
    "plan": ("gameday.cli.plan", "dry run: print each scenario's faults, targets and reverts; change nothing"),
    "rollback": ("gameday.cli.rollback", "replay every unfinished revert of a rollback journal (after a crash)"),
    "export-fis": ("gameday.cli.export_fis", "write a scenario as an AWS FIS experiment template (JSON)"),
    "preflight": ("gameday.cli.preflight", "check before breaking anything: prediction vs budget, N-1 capacity, health "
                  "checks, TTLs, failover codes and alarms as deployed; exit 2 with one line per failed check"),
}


_EPILOG = """\
a game day:
  gameday plan                      what each scenario would break and how it is reverted (changes nothing)
  gameday run                       every stack on localcloud (offline), fast profile; writes reports/<run-id>/
  gameday report --history          failover times per scenario across game days; regressions called out
  gameday rollback                  after a crash: replay the reverts a run left unfinished

Run `gameday COMMAND --help` for a command's options. Exit status: 0 ok, 1 a scenario failed its budget,
2 bad usage, 3 the suite itself broke, 130 interrupted (faults reverted)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        message = " ".join(message.split())  # issue 9: one line even when an argument holds a newline
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gameday", description="Chaos and failover verification for AWS architectures.",
                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args))
    except ConfigError as exc:
        print(f"gameday {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemUnderTestFailed as exc:
        print(f"gameday {args.command}: FAILED: {exc}", file=sys.stderr)
        return EXIT_VERDICT
    except (SuiteError, GamedayError) as exc:
        print(f"gameday {args.command}: suite error: {exc}", file=sys.stderr)
        return EXIT_SUITE
    except KeyboardInterrupt:
        print(f"gameday {args.command}: interrupted", file=sys.stderr)
        return 130
