"""gameday.load.records: the JSON-lines schema and the outcome classes of locust's errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gameday.load.records import (
    LoadRecord,
    classify,
    describe,
    read_record_file,
    redirect_expected,
    root_cause,
)
from gameday.timeline import Outcome


class RetriesExceeded(Exception):
    """Shaped like geventhttpclient's wrapper: the socket error rides in `original`."""

    def __init__(self, original: BaseException) -> None:
        super().__init__("retries exceeded")
        self.original = original


def _refused() -> ConnectionRefusedError:
    with socket.socket() as listener:  # a port that was just free: connecting to it is refused
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError as exc:
            return exc
    raise AssertionError("connect unexpectedly succeeded")


def _connect_socket() -> None:  # the frame name geventhttpclient's connect goes through
    raise TimeoutError("timed out")


def _read() -> None:
    raise TimeoutError("timed out")


def _raised(fn: object) -> BaseException:
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.OK), (301, Outcome.HTTP_3XX), (308, Outcome.HTTP_3XX), (404, Outcome.HTTP_4XX),
    (503, Outcome.HTTP_5XX),
])
def test_http_status_decides_when_there_is_an_answer(status: int, outcome: Outcome) -> None:
    error = RuntimeError("bad status") if status >= 400 else None
    assert classify(status, error) is outcome


def test_a_redirect_is_good_only_where_the_run_expects_it() -> None:
    login = "https://app.example/login"
    assert redirect_expected(302, "https://app.example/login?next=/", login)
    assert not redirect_expected(302, "https://elsewhere.example/", login)
    assert not redirect_expected(302, "https://app.example/login", "")  # nothing expected: never
    assert not redirect_expected(302, None, login) and not redirect_expected(200, login, login)
    assert classify(302, None, expected_redirect=True) is Outcome.OK
    assert classify(302, RuntimeError("302 redirect to https://elsewhere.example/")) is Outcome.HTTP_3XX


def test_socket_errors_are_unwrapped_and_classified() -> None:
    assert classify(None, RetriesExceeded(_refused())) is Outcome.REFUSED
    assert classify(None, ConnectionResetError(104, "reset")) is Outcome.RESET
    assert classify(None, RetriesExceeded(BrokenPipeError(32, "pipe"))) is Outcome.RESET
    assert classify(None, socket.gaierror(-2, "no name")) is Outcome.ERROR
    assert classify(None, ValueError("odd")) is Outcome.ERROR


def test_a_timeout_raised_while_connecting_is_a_connect_timeout() -> None:
    assert classify(None, RetriesExceeded(_raised(_connect_socket))) is Outcome.CONNECT_TIMEOUT
    assert classify(None, RetriesExceeded(_raised(_read))) is Outcome.TIMEOUT


def test_a_server_closing_a_kept_alive_connection_is_a_reset() -> None:
    class HTTPConnectionClosed(Exception):
        pass

    assert classify(None, HTTPConnectionClosed("closed")) is Outcome.RESET


def test_root_cause_survives_cycles_and_describe_is_short() -> None:
    a, b = ValueError("a"), ValueError("b" * 500)
    a.__context__, b.__context__ = b, a
    assert root_cause(a) in (a, b)
    assert len(describe(b)) <= 200
    assert describe(None) == ""


def test_record_round_trips_through_a_json_line() -> None:
    record = LoadRecord(sent_at=1_700_000_000.123456, elapsed_s=0.0042, outcome=Outcome.HTTP_5XX,
                        endpoint="root", client="KeepAliveClient", status=503, served_by="i-1", detail="x")
    assert LoadRecord.from_json(record.to_json()) == record


def test_reading_skips_a_torn_last_line_and_separates_events(tmp_path: Path) -> None:
    record = LoadRecord(1.0, 0.001, Outcome.OK, "root", "KeepAliveClient", 200, "i-1")
    path = tmp_path / "host-1.jsonl"
    path.write_text(record.to_json() + "\n" + '{"v":1,"ev":"load.users","t":2.0,"d":{"users":4}}\n'
                    + record.to_json()[:20])

    contents = read_record_file(path)

    assert contents.records == [record]
    assert [(e.kind, e.detail) for e in contents.events] == [("load.users", {"users": 4})]
    assert contents.malformed == 1
