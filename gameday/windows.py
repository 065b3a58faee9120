"""Allowed time windows for a game day: `Mon-Fri 09:00-16:00 Europe/Berlin`. A run refuses to start outside them.

A window is days, a time range and a time zone (IANA name, default UTC). Days are `Mon`, `Mon-Fri`, `Sat,Sun`,
`Fri-Mon` (wrapping) or `daily`; a range whose end is not after its start runs past midnight and belongs to the
day it starts on (`Fri 22:00-02:00` covers Saturday 01:00). The end is exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gameday.errors import ConfigError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHAPE = re.compile(r"(?P<days>\S+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})(\s+(?P<zone>\S+))?")
_USAGE = "expected DAYS HH:MM-HH:MM [ZONE], e.g. 'Mon-Fri 09:00-16:00 Europe/Berlin'"


@dataclass(frozen=True)
class Window:
    text: str
    days: frozenset[int]  # Monday is 0, as datetime.weekday()
    start: time
    end: time
    zone: str

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.zone))
        here = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= here < self.end
        # Past midnight: the evening of a listed day, or the small hours of the day after one.
        return ((local.weekday() in self.days and here >= self.start)
                or ((local - timedelta(days=1)).weekday() in self.days and here < self.end))

    @property
    def when(self) -> str:
        """The window without its zone, as the refusal names it beside the zone's own clock."""
        return self.text.rsplit(" ", 1)[0] if len(self.text.split()) == 3 else self.text


def parse_window(text: str) -> Window:
    """One window; anything malformed is a ConfigError naming the value."""
    cleaned = " ".join(text.split())
    matched = _SHAPE.fullmatch(cleaned)
    if not matched:
        raise ConfigError(f"window {text[:80]!r}: {_USAGE}")
    days = _days(matched.group("days"), text)
    start, end = _clock(matched.group("start"), text), _clock(matched.group("end"), text)
    if start == end:
        raise ConfigError(f"window {text[:80]!r}: starts and ends at {matched.group('start')} (an empty window)")
    zone = matched.group("zone") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"window {text[:80]!r}: unknown time zone {zone[:60]!r} (an IANA name, e.g. "
                          f"Europe/Berlin or UTC)") from None
    return Window(cleaned, days, start, end, zone)


def _days(spec: str, text: str) -> frozenset[int]:
    if spec.lower() in ("daily", "*"):
        return frozenset(range(7))
    found: set[int] = set()
    for item in spec.split(","):
        first, dash, last = item.partition("-")
        a, b = _day(first, text), _day(last if dash else first, text)
        found.update((a + offset) % 7 for offset in range((b - a) % 7 + 1))
    return frozenset(found)


def _day(name: str, text: str) -> int:
    for index, day in enumerate(DAYS):
        if name.lower() == day.lower():
            return index
    raise ConfigError(f"window {text[:80]!r}: unknown day {name[:20]!r} (one of {', '.join(DAYS)}, a range like "
                      f"Mon-Fri, a list like Sat,Sun, or daily)")


def _clock(value: str, text: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59, 999999)  # "until midnight"
    if hours > 23 or minutes > 59:
        raise ConfigError(f"window {text[:80]!r}: {value} is not a time of day")
    return time(hours, minutes)


def parse_windows(values: Sequence[str]) -> list[Window]:
    return [parse_window(value) for value in values]


def refusal(windows: Sequence[Window], now: datetime) -> str | None:
    """None when no window is set or `now` falls in one; otherwise the one-line reason a run does not start."""
    if not windows or any(window.contains(now) for window in windows):
        return None
    zone = windows[0].zone
    local = now.astimezone(ZoneInfo(zone))
    allowed = "; ".join(w.when if w.zone == zone else w.text for w in windows)
    return (f"now is {DAYS[local.weekday()]} {local:%H:%M} {zone}, outside the allowed "
            f"window{'s' if len(windows) > 1 else ''} {allowed}")
