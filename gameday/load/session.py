"""Load around a scenario: start before, stop after, and leave the requests on the scenario's timeline.

`running(config, target_url, report_dir, timeline)` is the whole contract; `LoadController` adds the
`none` choice (a no-op) so the pytest fixture stays thin.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.clock import Clock, SystemClock
from gameday.errors import ConfigError
from gameday.load.config import LOAD_CHOICES, LoadConfig
from gameday.load.merge import merge_records
from gameday.load.runner import LoadError, LoadRun
from gameday.timeline import Event, Timeline

log = logging.getLogger(__name__)

# Bounds of the load options: one host's locust, and a load run no longer than the longest soak.
MAX_USERS = 10_000
MAX_RATE = 100_000.0  # requests/s over all users
MAX_DURATION_S = 24 * 3600.0
MAX_PROCESSES = 64


def fresh_dir(report_dir: Path, name: str = "load") -> Path:
    """`<report_dir>/load`, or `load-2`, `load-3`… when a run already used it."""
    candidate, n = report_dir / name, 1
    while candidate.exists():
        n += 1
        candidate = report_dir / f"{name}-{n}"
    return candidate


@contextmanager
def running(config: LoadConfig, target_url: str, report_dir: Path, timeline: Timeline, *,
            clock: Clock | None = None) -> Iterator[LoadRun]:
    """Run load against `target_url` for the body of the `with`; its users are running when the body starts.

    On the way out (normally, on an exception, on Ctrl-C) locust is stopped, its group checked empty,
    and every request merged onto `timeline` with `load.start` / `load.stop` events around them.
    """
    clock = clock or SystemClock()
    run = LoadRun(config, target_url, fresh_dir(Path(report_dir)), clock=clock)
    timeline.add_event(Event(clock.now(), "load.start", "load", target_url,
                             {**config.to_dict(), "folder": str(run.files.root)}))
    run.start()
    failed = True
    try:
        run.wait_ready()
        yield run
        failed = False
    finally:
        result = run.stop()
        detail: dict[str, Any] = {**result.to_dict(), "folder": str(run.files.root)}
        try:
            detail.update(merge_records(timeline, run.files.records_dir, target=target_url).to_dict())
        except (OSError, ValueError) as exc:
            log.error("could not merge load records from %s: %s", run.files.records_dir, exc)
            detail["merge_error"] = str(exc)
        timeline.add_event(Event(clock.now(), "load.stop", "load", target_url, detail))
        if result.leftover:
            message = f"locust processes left after the load run: {list(result.leftover)}"
            log.error(message)
            if not failed:
                raise LoadError(message)
        elif not failed and result.exit_code not in (0, 124):
            raise LoadError(f"locust ended with exit {result.exit_code}: {run.output_tail()}")


@dataclass(frozen=True)
class LoadSettings:
    """The load options of a session: `--load`, `--load-users`, `--load-rate` and friends."""

    choice: str = "none"  # steady | 10x | soak | none
    users: int | None = None
    rate: float | None = None
    duration_s: float | None = None
    processes: int | None = None

    def __post_init__(self) -> None:
        """Every option checked when the settings are made (the parent's `_check`, before anything starts),
        even with `--load none`: a bad value is a mistake whether or not it is used this time."""
        if self.choice not in LOAD_CHOICES:
            raise ConfigError(f"--load must be one of {', '.join(LOAD_CHOICES)}, got {str(self.choice)[:40]!r}")
        _bounded("--load-users", self.users, 1, MAX_USERS, whole=True)
        _bounded("--load-rate", self.rate, 0.0, MAX_RATE, low_open=True)
        _bounded("--load-duration", self.duration_s, 0.0, MAX_DURATION_S, low_open=True)
        _bounded("--load-processes", self.processes, 1, MAX_PROCESSES, whole=True)

    @property
    def enabled(self) -> bool:
        return self.choice != "none"

    def config(self, **overrides: Any) -> LoadConfig:
        values: dict[str, Any] = {"users": self.users, "rate": self.rate, "duration_s": self.duration_s,
                                  "processes": self.processes}
        values.update(overrides)
        return LoadConfig.for_shape(self.choice, **values)


def _bounded(option: str, value: float | None, low: float, high: float, *, whole: bool = False,
             low_open: bool = False) -> None:
    if value is None:
        return
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        raise ConfigError(f"{option} must be {kind}, got {str(value)[:40]!r}")
    above_low = value > low if low_open else value >= low
    if not (math.isfinite(value) and above_low and value <= high):
        bounds = f"above {low:g}" if low_open else f"at least {low:g}"
        raise ConfigError(f"{option} must be {kind} {bounds} and at most {high:g}, got {value:g}")


class LoadController:
    """What a scenario holds: `with load.running(url, report_dir, timeline): ...` — a no-op for `none`."""

    def __init__(self, settings: LoadSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    @contextmanager
    def running(self, target_url: str, report_dir: Path, timeline: Timeline,
                **overrides: Any) -> Iterator[LoadRun | None]:
        if not self.enabled:
            yield None
            return
        with running(self.settings.config(**overrides), target_url, report_dir, timeline,
                     clock=self.clock) as run:
            yield run
