"""gameday's locust plugin: every request as one JSON line, the request budget, and the final stats.

Imported by the locustfile, so it runs in every locust process: the one that spawns users (local or
worker) writes request records; the one that runs the shape (local or master) writes user-count events
and the stats JSON. Each process writes its own file, `<records dir>/<host>-<pid>.jsonl`, so nothing is
shared between processes; `gameday.load.merge` reads them all.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import save_stats_json

from gameday.load.records import LoadEventRecord, LoadRecord, classify, describe, redirect_expected

log = logging.getLogger("gameday.load.listener")
FLUSH_EVERY_S = 0.5


@events.init_command_line_parser.add_listener
def add_options(parser: Any) -> None:
    group = parser.add_argument_group("gameday", "options the gameday runner passes; see gameday.load")
    group.add_argument("--gameday-records", default="", help="directory for per-request JSON lines")
    group.add_argument("--gameday-stats-json", default="", help="final stats JSON path (no .json suffix)")
    group.add_argument("--gameday-max-requests", type=int, default=0,
                       help="requests this process may send before it goes idle (0: no budget)")
    group.add_argument("--gameday-shape", default="steady", help="steady | 10x | soak")
    group.add_argument("--gameday-users", type=int, default=10, help="normal number of users")
    group.add_argument("--gameday-rate", type=float, default=0.0,
                       help="normal requests per second over all users (0: as fast as they can)")
    group.add_argument("--gameday-duration", type=float, default=60.0, help="the shape stops here (s)")
    group.add_argument("--gameday-step-at", type=float, default=10.0, help="10x: step time (s)")
    group.add_argument("--gameday-ramp", type=float, default=10.0, help="soak: ramp-up time (s)")
    group.add_argument("--gameday-paths", default="/", help="comma-separated paths to request")
    group.add_argument("--gameday-hosts", default="",
                       help="comma-separated base URLs the users spread over, one per user, like clients that "
                            "each resolved one of several addresses (empty: --host alone)")
    group.add_argument("--gameday-connect-timeout", type=float, default=2.0)
    group.add_argument("--gameday-timeout", type=float, default=5.0)
    group.add_argument("--gameday-expect-location", default="",
                       help="a 3xx whose Location starts with this is good; any other 3xx is a failure "
                            "(redirects are never followed)")


class Recorder:
    """Per-process state of the plugin: the records file and the request budget."""

    def __init__(self, environment: Environment, records_dir: str, max_requests: int,
                 expect_location: str = "") -> None:
        self.environment = environment
        self.max_requests = max_requests
        self.expect_location = expect_location
        self.sent = 0
        self.budget_logged = False
        self._dir = Path(records_dir) if records_dir else None
        self._file: IO[str] | None = None

    def take(self) -> bool:
        """One request from the budget; False once it is spent (the user then idles)."""
        if self.max_requests and self.sent >= self.max_requests:
            if not self.budget_logged:
                self.budget_logged = True
                self.write_event("load.budget_exhausted", {"requests": self.sent, "pid": os.getpid()})
                log.warning("request budget of %d spent in pid %d; users go idle", self.max_requests,
                            os.getpid())
            return False
        self.sent += 1
        return True

    def on_request(self, request_type: str, name: str, response_time: float, response_length: int,
                   response: Any = None, context: Any = None, exception: BaseException | None = None,
                   start_time: float | None = None, **_: Any) -> None:
        status = getattr(response, "status_code", None) or None
        headers = getattr(response, "headers", None)
        served_by = headers.get("X-Served-By") if status and headers is not None else None
        location = headers.get("Location") if status and headers is not None else None
        expected = redirect_expected(status, location, self.expect_location)
        client = context.get("client", "") if isinstance(context, dict) else ""
        elapsed = response_time / 1000.0
        sent_at = start_time if start_time is not None else time.time() - elapsed
        failed = status is None or status >= 400 or (status >= 300 and not expected)
        self._write(LoadRecord(sent_at=sent_at, elapsed_s=elapsed,
                               outcome=classify(status, exception, expected_redirect=expected),
                               endpoint=name, client=client, status=status, served_by=served_by,
                               detail=describe(exception) if failed else "")
                    .to_json())

    def write_event(self, kind: str, detail: dict[str, Any]) -> None:
        self._write(LoadEventRecord(time.time(), kind, detail).to_json())

    def flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY_S)
            self.flush()

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, line: str) -> None:
        if self._dir is None:
            return
        if self._file is None:
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / f"{socket.gethostname()}-{os.getpid()}.jsonl"
            self._file = path.open("a", encoding="utf-8", buffering=1 << 16)
        self._file.write(line + "\n")


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    recorder = Recorder(environment, options.gameday_records if options else "",
                        options.gameday_max_requests if options else 0,
                        options.gameday_expect_location if options else "")
    environment.gameday_recorder = recorder
    environment.events.request.add_listener(recorder.on_request)
    gevent.spawn(recorder.flush_forever)
    runs_shape = not isinstance(environment.runner, WorkerRunner)

    def on_spawning_complete(user_count: int, **_: Any) -> None:
        recorder.write_event("load.users", {"users": user_count})
        recorder.flush()

    def on_test_start(**_: Any) -> None:
        recorder.write_event("load.test_start", {})

    def on_test_stop(**_: Any) -> None:
        recorder.write_event("load.test_stop", {})
        recorder.flush()

    def on_quit(exit_code: int, **_: Any) -> None:
        # after runner.quit(): the workers' final reports are in, so the stats are complete
        if runs_shape and options and options.gameday_stats_json:
            save_stats_json(environment.runner.stats, options.gameday_stats_json)
        recorder.close()

    if runs_shape:
        environment.events.spawning_complete.add_listener(on_spawning_complete)
        environment.events.test_start.add_listener(on_test_start)
        environment.events.test_stop.add_listener(on_test_stop)
    environment.events.quitting.add_listener(lambda **_: recorder.flush())
    environment.events.quit.add_listener(on_quit)


def recorder_of(environment: Environment) -> Recorder:
    return environment.gameday_recorder
