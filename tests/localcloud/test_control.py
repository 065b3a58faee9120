import json

from localcloud.control import control_handler
from localcloud.events import EventLog
from localcloud.net.http import Request


def get(handler, path: str, **query: str):  # type: ignore[no-untyped-def]
    return handler(Request("GET", path, query, {}))


def test_events_are_paged_by_sequence_number() -> None:
    events = EventLog(now=lambda: 5.0)
    for i in range(3):
        events.emit("localcloud.instance.pending", f"i-{i}", address=f"127.9.1.{i}")
    handler = control_handler(events, lambda: {"profile": "fast"}, lambda iid: "log" if iid == "i-0" else None)

    page = json.loads(get(handler, "/events", since="1", limit="1").body)
    rest = json.loads(get(handler, "/events", since=str(page["next"])).body)

    assert page == {"events": [{"seq": 1, "at": 5.0, "kind": "localcloud.instance.pending", "subject": "i-1",
                                "detail": {"address": "127.9.1.1"}}], "next": 2}
    assert [e["seq"] for e in rest["events"]] == [2] and rest["next"] == 3
    assert get(handler, "/events", since="x").status == 400


def test_info_console_and_unknown_paths() -> None:
    handler = control_handler(EventLog(), lambda: {"profile": "fast"}, lambda iid: "log" if iid == "i-0" else None)

    assert json.loads(get(handler, "/info").body) == {"profile": "fast"}
    assert get(handler, "/console/i-0").body == b"log"
    assert get(handler, "/console/i-9").status == 404 and get(handler, "/nope").status == 404
