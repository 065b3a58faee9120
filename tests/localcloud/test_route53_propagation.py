"""Change propagation: versions become visible after the delay, GetChange status, ground-truth events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameday.clock import FakeClock
from localcloud.profiles import Delay
from localcloud.route53.model import RecordSet, Zone
from localcloud.route53.propagation import CHANGE_EVENT, ZONE_EVENT, Propagation


class FakeSource:
    """Live zones as a dict the test edits, standing in for moto."""

    def __init__(self) -> None:
        self.live: dict[str, Zone] = {}

    def zones(self) -> dict[str, Zone]:
        return dict(self.live)

    def zone(self, zone_id: str) -> Zone | None:
        return self.live.get(zone_id)

    def put(self, *records: RecordSet) -> None:
        self.live["Z1"] = Zone.build("Z1", "example.com", records=records)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Mapping[str, Any]]] = []

    def __call__(self, kind: str, subject: str, detail: Mapping[str, Any]) -> None:
        self.events.append((kind, subject, detail))


def www(value: str) -> RecordSet:
    return RecordSet("www.example.com.", "A", 60, (value,))


def values(propagation: Propagation) -> list[tuple[str, ...]]:
    return [r.values for z in propagation.view() for r in z.records if r.name == "www.example.com."]


def setup(delay: float = 10.0) -> tuple[FakeSource, FakeClock, Recorder, Propagation]:
    source, clock, events = FakeSource(), FakeClock(), Recorder()
    return source, clock, events, Propagation(source, Delay(delay, delay), clock=clock, on_event=events)


def test_state_present_at_start_is_published_at_once_and_silently() -> None:
    source, _, events, propagation = setup()
    source.put(www("127.0.0.1"))

    propagation.sync()
    propagation.publish_due()

    assert values(propagation) == [("127.0.0.1",)] and events.events == []


def test_api_change_is_pending_until_the_delay_has_passed() -> None:
    source, clock, events, propagation = setup(delay=10.0)
    source.put(www("127.0.0.1"))
    propagation.sync()

    with propagation.applying("Z1") as change:
        source.put(www("127.0.0.2"))
    clock.advance(9.9)
    before = (values(propagation), propagation.change_status(change.change_id))
    propagation.publish_due()
    silent_so_far = list(events.events)
    clock.advance(0.1)
    propagation.publish_due()

    assert before == ([("127.0.0.1",)], "PENDING") and silent_so_far == []
    assert values(propagation) == [("127.0.0.2",)] and propagation.change_status(change.change_id) == "INSYNC"
    [(kind, subject, detail)] = events.events
    assert (kind, subject) == (CHANGE_EVENT, "www.example.com.")
    assert {k: detail[k] for k in ("zone", "name", "type", "values", "action", "change_id")} == {
        "zone": "example.com.", "name": "www.example.com.", "type": "A", "values": ["127.0.0.2"],
        "action": "UPSERT", "change_id": change.change_id}
    assert detail["visible_at"] == change.visible_at


def test_change_that_bypassed_the_api_is_found_by_poll_and_delayed_too() -> None:
    source, clock, _, propagation = setup(delay=5.0)
    source.put(www("127.0.0.1"))
    propagation.sync()

    source.put(www("127.0.0.3"))
    propagation.poll()
    clock.advance(4.0)
    propagation.poll()  # seen again: still one pending version, not a new one with a later time
    clock.advance(1.0)

    assert values(propagation) == [("127.0.0.3",)]


def test_a_later_change_never_becomes_visible_before_an_earlier_one() -> None:
    source, clock, _, propagation = setup()
    propagation = Propagation(source, Delay(1.0, 30.0), clock=clock)
    source.put(www("127.0.0.1"))
    propagation.sync()

    seen = []
    for i in range(2, 12):
        with propagation.applying("Z1"):
            source.put(www(f"127.0.0.{i}"))
    for _ in range(40):
        clock.advance(1.0)
        seen += [v for v in values(propagation) if not seen or v != seen[-1]]

    assert seen == sorted(seen, key=lambda v: int(v[0].rsplit(".", 1)[1]))
    assert seen[-1] == ("127.0.0.11",)


def test_new_and_deleted_zones_are_announced_once_each() -> None:
    source, clock, events, propagation = setup(delay=1.0)
    propagation.sync()

    with propagation.applying() as change:
        source.put(www("127.0.0.1"))
        change.zone_id = "Z1"
    clock.advance(1.0)
    propagation.publish_due()
    with propagation.applying("Z1"):
        del source.live["Z1"]
    clock.advance(1.0)
    propagation.publish_due()

    assert [(k, d["action"]) for k, _, d in events.events] == [
        (ZONE_EVENT, "CREATE"), (CHANGE_EVENT, "UPSERT"), (ZONE_EVENT, "DELETE"), (CHANGE_EVENT, "DELETE")]
    assert propagation.view() == []


def test_unknown_change_id_has_no_status() -> None:
    assert setup()[3].change_status("C0000BOGUS") is None
