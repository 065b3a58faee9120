"""`python -m localcloud serve`: run one LocalCloud until told to stop.

Prints exactly one JSON line on stdout once ready ({"ready": true, "endpoint_url", "control_url",
"profile", "pid", "dns", …}); everything else goes to stderr. Stops on SIGTERM, SIGINT or end of
stdin (the parent died: its end of the pipe closed), then exits 0. Exit 2: could not start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import shutil
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from localcloud import profiles
from localcloud.cloud import LocalCloud
from localcloud.errors import LocalCloudError

log = logging.getLogger("localcloud")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a LocalCloud until SIGTERM/SIGINT or end of stdin")
    serve.add_argument("--profile", default="fast", help="time profile name or .toml path (default fast)")
    serve.add_argument("--seed", type=int, default=None, help="seed for jittered delays and moto's ids")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--userdata-timeout", type=float, default=300.0, metavar="SECONDS")
    serve.add_argument("--ignore-stdin", action="store_true",
                       help="do not stop at end of stdin (for running by hand with stdin closed)")
    serve.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level,
                        format="%(asctime)s localcloud[%(process)d] %(levelname)s %(name)s: %(message)s")
    return run_serve(args)


OWNED_TMPDIR = "LOCALCLOUD_OWNED_TMPDIR"  # a TMPDIR made for this child alone (gameday's LocalBackend)


def _remove_owned_tmpdir() -> None:
    """The TMPDIR its starter made for it goes with it: the starter may have been killed before its own cleanup."""
    owned = os.environ.get(OWNED_TMPDIR)
    if owned and owned == os.environ.get("TMPDIR"):
        shutil.rmtree(owned, ignore_errors=True)


def run_serve(args: argparse.Namespace) -> int:
    try:
        profile = profiles.load(args.profile)
    except profiles.ProfileError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    stop_signal: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous_wakeup = signal.set_wakeup_fd(wake_write)
    cloud = LocalCloud(profile, seed=args.seed, region=args.region, userdata_timeout_s=args.userdata_timeout)
    try:
        cloud.start()
        ready = {"ready": True, **cloud.info(), "pid": os.getpid()}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the ready line stays the only line on stdout
        reason = _wait(wake_read, stop_signal, watch_stdin=not args.ignore_stdin)
        log.info("stopping: %s", reason)
    except LocalCloudError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    finally:
        cloud.stop()
        _remove_owned_tmpdir()
        signal.set_wakeup_fd(previous_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_read)
        os.close(wake_write)
    return 0


def _wait(wake_fd: int, stop_signal: list[int], *, watch_stdin: bool) -> str:
    """Block until a stop signal or end of stdin. Wakes at least once a second to re-check."""
    stdin_fd = sys.stdin.fileno() if watch_stdin and sys.stdin is not None else None
    fds = [wake_fd] + ([stdin_fd] if stdin_fd is not None else [])
    while not stop_signal:
        readable, _, _ = select.select(fds, [], [], 1.0)
        if wake_fd in readable:
            os.read(wake_fd, 512)
        if stdin_fd is not None and stdin_fd in readable:
            if not os.read(stdin_fd, 65536):
                return "end of stdin"
    return f"signal {signal.Signals(stop_signal[0]).name}"


if __name__ == "__main__":
    sys.exit(main())
