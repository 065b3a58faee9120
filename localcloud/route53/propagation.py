"""Change propagation: moto applies a change at once, Route 53's name servers see it up to a minute later.

Each zone keeps versions (snapshot, visible-from time). A change becomes a new version visible after the
profile's `route53.change_insync` delay (sampled per change, never before an earlier change of the same
zone); the DNS server answers from the newest visible version. Changes made through the Route 53 API
arrive from the moto hook with a change id (so GetChange can say PENDING); changes that bypass the API
(CloudFormation, direct backend writes) are found by `poll()` and get the same delay from when they
were seen. When a version becomes visible, one `localcloud.route53.change` event per changed record set.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from localcloud.profiles import Delay
from localcloud.route53.model import RecordSet, Zone

log = logging.getLogger(__name__)

EventSink = Callable[[str, str, Mapping[str, Any]], None]
CHANGE_EVENT = "localcloud.route53.change"
ZONE_EVENT = "localcloud.route53.zone"
PENDING, INSYNC = "PENDING", "INSYNC"
_LEDGER_MAX = 10_000


class Clock(Protocol):
    """The part of gameday's `Clock` this module needs (gameday.clock.SystemClock/FakeClock fit)."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ZoneSource(Protocol):
    """The live (control-plane) state: what moto holds right now."""

    def zones(self) -> dict[str, Zone]: ...

    def zone(self, zone_id: str) -> Zone | None: ...


@dataclass(frozen=True)
class _Version:
    zone: Zone | None  # None: the zone does not exist (not yet created, or deleted)
    visible_mono: float
    visible_at: float  # epoch seconds, for events
    change_id: str | None = None


@dataclass
class Submission:
    """One API call's change: the caller names the zone (if it only learns it from moto's answer,
    as for CreateHostedZone); `applying` fills in the change id and when it becomes visible."""

    zone_id: str | None = None
    change_id: str = ""
    visible_at: float = 0.0


class Propagation:
    """Published zone versions, the change ledger behind GetChange, and the change events. Thread-safe."""

    def __init__(self, source: ZoneSource, delay: Delay, *, clock: Clock | None = None,
                 rng: random.Random | None = None, on_event: EventSink | None = None) -> None:
        self._source = source
        self._delay = delay
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._on_event = on_event
        self._lock = threading.RLock()
        # versions[zone][0] is the announced (published) base; later ones are pending or not yet announced.
        self._versions: dict[str, list[_Version]] = {}
        self._changes: dict[str, float] = {}  # change id -> monotonic time it becomes INSYNC
        self._ids = itertools.count(1)

    def sync(self) -> None:
        """Publish the live state at once, silently: what existed before the server started is not news."""
        with self._lock:
            self._versions = {zid: [_Version(z, -math.inf, self._clock.now())]
                              for zid, z in self._source.zones().items()}

    # --- writers: the moto hook (request threads) and the poller (the DNS loop) ---

    @contextmanager
    def applying(self, zone_id: str | None = None) -> Iterator[Submission]:
        """Hold off the poller while moto applies one API call, then version the zone it changed.
        Nothing is recorded if the call raises or no zone id is known by the end."""
        submission = Submission(zone_id)
        with self._lock:
            yield submission
            if not submission.zone_id:
                return
            submission.change_id = f"C{next(self._ids):06d}{self._rng.getrandbits(40):010X}"
            zone = self._source.zone(submission.zone_id)
            visible = self._register(submission.zone_id, zone, submission.change_id)
            self._changes[submission.change_id] = visible.visible_mono
            submission.visible_at = visible.visible_at
            while len(self._changes) > _LEDGER_MAX:
                del self._changes[next(iter(self._changes))]

    def poll(self) -> None:
        """Find changes that bypassed the API (CloudFormation, other localcloud parts writing moto)."""
        with self._lock:
            live = self._source.zones()
            for zone_id in set(live) | set(self._versions):
                versions = self._versions.get(zone_id)
                latest = versions[-1].zone if versions else None
                if live.get(zone_id) != latest:
                    self._register(zone_id, live.get(zone_id), None)

    def _register(self, zone_id: str, zone: Zone | None, change_id: str | None) -> _Version:
        versions = self._versions.setdefault(zone_id, [_Version(None, -math.inf, 0.0)])
        now_mono, now = self._clock.monotonic(), self._clock.now()
        wait = max(self._delay.sample(self._rng), versions[-1].visible_mono - now_mono, 0.0)
        version = _Version(zone, now_mono + wait, now + wait, change_id)
        if zone != versions[-1].zone:
            versions.append(version)
        return version

    # --- readers ---

    def view(self) -> list[Zone]:
        """The zones name servers answer from now."""
        now = self._clock.monotonic()
        with self._lock:
            found = []
            for versions in self._versions.values():
                visible = [v for v in versions if v.visible_mono <= now]
                if visible and visible[-1].zone is not None:
                    found.append(visible[-1].zone)
            return found

    def pending(self) -> int:
        """How many zone versions are not visible yet (0: DNS shows what moto holds, as far as seen)."""
        now = self._clock.monotonic()
        with self._lock:
            return sum(1 for versions in self._versions.values() for v in versions if v.visible_mono > now)

    def change_status(self, change_id: str) -> str | None:
        """PENDING or INSYNC for a change this propagation issued; None for an id it never saw."""
        with self._lock:
            visible = self._changes.get(change_id)
        if visible is None:
            return None
        return INSYNC if self._clock.monotonic() >= visible else PENDING

    def publish_due(self) -> float | None:
        """Announce every version that has become visible; return when the next one will (monotonic)."""
        now = self._clock.monotonic()
        events: list[tuple[str, str, dict[str, Any]]] = []
        upcoming: float | None = None
        with self._lock:
            for zone_id, versions in list(self._versions.items()):
                while len(versions) > 1 and versions[1].visible_mono <= now:
                    events += _diff(zone_id, versions[0].zone, versions[1])
                    del versions[0]
                if len(versions) > 1:
                    upcoming = min(upcoming or math.inf, versions[1].visible_mono)
                elif versions[0].zone is None:
                    del self._versions[zone_id]
        for kind, subject, detail in events:
            self._emit(kind, subject, detail)
        return upcoming

    def _emit(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(kind, subject, detail)
        except Exception:  # a broken listener must not stop DNS from publishing
            log.exception("route53 event listener failed on %s %s", kind, subject)


def _diff(zone_id: str, old: Zone | None, new: _Version) -> list[tuple[str, str, dict[str, Any]]]:
    zone = new.zone or old
    assert zone is not None
    common: dict[str, Any] = {"zone": zone.name, "zone_id": zone_id, "visible_at": new.visible_at}
    if new.change_id:
        common["change_id"] = new.change_id
    events: list[tuple[str, str, dict[str, Any]]] = []
    whole_zone = old is None or new.zone is None
    if whole_zone:
        events.append((ZONE_EVENT, zone.name, {**common, "action": "CREATE" if old is None else "DELETE",
                                               "private": zone.private, "vpcs": sorted(zone.vpcs)}))
    before = _changeable(old, whole_zone)
    after = _changeable(new.zone, whole_zone)
    for key in sorted(before.keys() | after.keys()):
        if before.get(key) == after.get(key):
            continue
        record = after.get(key) or before[key]
        values = list(after[key].values) if key in after else []
        action = "UPSERT" if key in after else "DELETE"
        events.append((CHANGE_EVENT, record.name, {**common, **record.describe(), "values": values,
                                                    "action": action}))
    return events


def _changeable(zone: Zone | None, whole_zone: bool) -> dict[tuple[str, str, str], RecordSet]:
    """Record sets by key; the apex SOA/NS are left to the zone event when the zone comes or goes."""
    if zone is None:
        return {}
    return {r.key: r for r in zone.records
            if not (whole_zone and r.name == zone.name and r.type in ("SOA", "NS"))}
