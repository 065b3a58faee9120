"""The per-request record that the locust listener writes as JSON lines, and the reading side of it.

Written inside the locust process (by `loadtest/listener.py`), read by `gameday.load.merge`: one schema,
one module. Only the standard library and `gameday.timeline` are imported here, so the locust process
can import it without pulling the suite in.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.timeline import Outcome

RECORD_VERSION = 1
_CONNECT_FRAMES = frozenset({"_connect_socket", "_create_socket", "create_connection", "connect"})
_DETAIL_MAX = 200


@dataclass(frozen=True)
class LoadRecord:
    """One request locust sent, as its user saw it."""

    sent_at: float  # epoch seconds at the start of the request
    elapsed_s: float  # until the answer, or until the error
    outcome: Outcome
    endpoint: str  # locust's request name, e.g. "root"
    client: str  # the user class: how it holds its connections
    status: int | None = None
    served_by: str | None = None
    detail: str = ""

    def to_json(self) -> str:
        data: dict[str, Any] = {"v": RECORD_VERSION, "t": round(self.sent_at, 6),
                                "e": round(self.elapsed_s, 6), "o": self.outcome.value,
                                "ep": self.endpoint, "c": self.client}
        if self.status is not None:
            data["st"] = self.status
        if self.served_by is not None:
            data["sb"] = self.served_by
        if self.detail:
            data["d"] = self.detail
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> LoadRecord:
        data = json.loads(line)
        if data.get("v") != RECORD_VERSION:
            raise ValueError(f"unsupported load record version {data.get('v')!r}")
        return cls(sent_at=float(data["t"]), elapsed_s=float(data["e"]), outcome=Outcome(data["o"]),
                   endpoint=str(data["ep"]), client=str(data["c"]), status=data.get("st"),
                   served_by=data.get("sb"), detail=str(data.get("d", "")))


@dataclass(frozen=True)
class LoadEventRecord:
    """Something the load generator itself did (user count reached, budget exhausted), as a JSON line."""

    at: float
    kind: str  # e.g. "load.users", "load.budget_exhausted"
    detail: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"v": RECORD_VERSION, "ev": self.kind, "t": round(self.at, 6), "d": self.detail},
                          separators=(",", ":"))


@dataclass
class RecordFileContents:
    records: list[LoadRecord]
    events: list[LoadEventRecord]
    malformed: int  # lines that could not be read (e.g. the torn last line of a killed writer)


def read_record_file(path: Path) -> RecordFileContents:
    contents = RecordFileContents([], [], 0)
    for line in iter_record_lines(path):
        if isinstance(line, LoadRecord):
            contents.records.append(line)
        elif isinstance(line, LoadEventRecord):
            contents.events.append(line)
        else:
            contents.malformed += 1
    return contents


def iter_record_lines(path: Path) -> Iterator[LoadRecord | LoadEventRecord | None]:
    """The lines of a record file one at a time, as written (None: a line that could not be read)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if "ev" in data:
                    yield LoadEventRecord(float(data["t"]), str(data["ev"]), dict(data.get("d", {})))
                else:
                    yield LoadRecord.from_json(line)
            except (ValueError, KeyError, TypeError):
                yield None


def redirect_expected(status: int | None, location: str | None, expect_location: str) -> bool:
    """Whether a 3xx is the answer the run expects: its Location starts with `expect_location` ("" never).
    The load does not follow redirects: a client sent elsewhere did not get the page it asked for."""
    return bool(status and 300 <= status < 400 and expect_location and location
                and location.startswith(expect_location))


def classify(status: int | None, exception: BaseException | None, *, expected_redirect: bool = False) -> Outcome:
    """The outcome class of one request: the HTTP status when there was one, else the socket error. A 3xx
    is `http_3xx` unless `expected_redirect` (see `redirect_expected`)."""
    if status is not None and status >= 100:
        if status >= 500:
            return Outcome.HTTP_5XX
        if status >= 400:
            return Outcome.HTTP_4XX
        if status >= 300 and not expected_redirect:
            return Outcome.HTTP_3XX
        return Outcome.OK if exception is None else Outcome.ERROR
    if exception is None:
        return Outcome.ERROR
    cause = root_cause(exception)
    if isinstance(cause, ConnectionRefusedError):
        return Outcome.REFUSED
    if isinstance(cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Outcome.RESET
    if _is_timeout(cause):
        return Outcome.CONNECT_TIMEOUT if _raised_while_connecting(cause) else Outcome.TIMEOUT
    if isinstance(cause, socket.gaierror):
        return Outcome.ERROR
    if type(cause).__name__ in {"HTTPConnectionClosed", "EmptyResponse"}:
        # the server closed a kept-alive connection under the request: what a dying instance does
        return Outcome.RESET
    return Outcome.ERROR


def root_cause(exception: BaseException) -> BaseException:
    """Unwrap the HTTP client's wrappers (retries exceeded, chained errors) down to the socket error."""
    seen: set[int] = set()
    current = exception
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "original", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def describe(exception: BaseException | None) -> str:
    if exception is None:
        return ""
    cause = root_cause(exception)
    text = f"{type(cause).__name__}: {cause}"
    return text[:_DETAIL_MAX]


def iter_record_files(records_dir: Path) -> Iterator[Path]:
    yield from sorted(records_dir.glob("*.jsonl"))


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError | socket.timeout):
        return True
    if isinstance(exc, ssl.SSLError) and "timed out" in str(exc):
        return True
    return type(exc).__name__ == "Timeout"  # gevent.Timeout, without importing gevent here


def _raised_while_connecting(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in _CONNECT_FRAMES:
            return True
        tb = tb.tb_next
    return False
