import threading

import pytest

from localcloud.events import EventLog


def test_events_are_numbered_in_order_and_paged_by_sequence() -> None:
    log = EventLog(now=lambda: 100.0)
    for i in range(5):
        log.emit("localcloud.test", f"s{i}", n=i)

    first, next_seq = log.since(0, limit=2)
    rest, end = log.since(next_seq)

    assert [e.seq for e in first] == [0, 1] and next_seq == 2
    assert [e.subject for e in rest] == ["s2", "s3", "s4"] and end == 5
    assert log.since(end) == ([], 5)
    assert rest[0].to_dict() == {"seq": 2, "at": 100.0, "kind": "localcloud.test", "subject": "s2",
                                 "detail": {"n": 2}}


def test_wait_for_returns_an_event_emitted_by_another_thread() -> None:
    log = EventLog()
    log.emit("localcloud.other", "x")
    emitter = threading.Timer(0.05, lambda: log.emit("localcloud.wanted", "i-1", code=0))
    emitter.start()
    try:
        event = log.wait_for("localcloud.wanted", "i-1", timeout=5.0)
    finally:
        emitter.join()

    assert event.seq == 1 and event.detail == {"code": 0}


def test_wait_for_gives_up_after_its_timeout() -> None:
    log = EventLog()
    log.emit("localcloud.wanted", "i-2")

    with pytest.raises(TimeoutError, match="localcloud.wanted"):
        log.wait_for("localcloud.wanted", "i-1", timeout=0.01)
    with pytest.raises(TimeoutError):
        log.wait_for("localcloud.wanted", "i-2", since=1, timeout=0.01)
