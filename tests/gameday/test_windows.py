"""Allowed time windows: which moments they hold, the one-line refusal, malformed windows, and `gameday run`
refusing through its front door before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gameday.errors import ConfigError
from gameday.windows import DAYS, parse_window, refusal

ROOT = Path(__file__).resolve().parents[2]
BERLIN_WORKDAYS = "Mon-Fri 09:00-16:00 Europe/Berlin"


def at(text: str) -> datetime:
    """A UTC moment, e.g. '2026-12-05 12:05' (a Saturday)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


@pytest.mark.parametrize(("moment", "inside"), [
    ("2026-12-07 08:00", True),    # Monday 09:00 in Berlin (UTC+1 in winter): the first minute
    ("2026-12-07 07:59", False),   # Monday 08:59 in Berlin
    ("2026-12-11 14:59", True),    # Friday 15:59 in Berlin
    ("2026-12-11 15:00", False),   # Friday 16:00 in Berlin: the end is exclusive
    ("2026-12-05 12:05", False),   # Saturday
    ("2026-07-06 07:30", True),    # Monday 09:30 in Berlin in summer (UTC+2)
    ("2026-07-06 14:30", False),   # Monday 16:30 in Berlin in summer
])
def test_a_window_holds_its_days_and_hours_in_its_own_zone(moment: str, inside: bool) -> None:
    assert parse_window(BERLIN_WORKDAYS).contains(at(moment)) is inside


def test_a_window_past_midnight_belongs_to_the_day_it_starts_on() -> None:
    night = parse_window("Fri 22:00-02:00")  # UTC when no zone is named
    assert night.contains(at("2026-12-11 23:00"))  # Friday night
    assert night.contains(at("2026-12-12 01:30"))  # Saturday's small hours, still Friday's window
    assert not night.contains(at("2026-12-12 02:00"))
    assert not night.contains(at("2026-12-10 23:00"))  # Thursday night


def test_days_wrap_and_list() -> None:
    assert parse_window("Fri-Mon 00:00-24:00").days == frozenset({4, 5, 6, 0})
    assert parse_window("Sat,Sun 10:00-12:00").days == frozenset({5, 6})
    assert parse_window("daily 10:00-12:00").days == frozenset(range(7))


def test_the_refusal_names_now_in_the_windows_zone_and_the_windows() -> None:
    windows = [parse_window(BERLIN_WORKDAYS)]
    assert refusal(windows, at("2026-12-05 12:05")) == (
        "now is Sat 13:05 Europe/Berlin, outside the allowed window Mon-Fri 09:00-16:00")
    assert refusal(windows, at("2026-12-07 12:05")) is None
    assert refusal([], at("2026-12-05 12:05")) is None  # no window: any time


def test_any_of_several_windows_lets_a_run_start() -> None:
    windows = [parse_window(BERLIN_WORKDAYS), parse_window("Sat 10:00-14:00 UTC")]
    assert refusal(windows, at("2026-12-05 12:05")) is None
    said = refusal(windows, at("2026-12-06 12:05"))
    assert said == ("now is Sun 13:05 Europe/Berlin, outside the allowed windows Mon-Fri 09:00-16:00; "
                    "Sat 10:00-14:00 UTC")


@pytest.mark.parametrize(("text", "said"), [
    ("weekdays 09:00-16:00", "unknown day 'weekdays'"),
    ("Mon-Fri 9-16", "expected DAYS HH:MM-HH:MM [ZONE]"),
    ("Mon-Fri 09:00-16:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("Mon 25:00-26:00", "25:00 is not a time of day"),
    ("Mon 09:00-09:00", "an empty window"),
    ("", "expected DAYS HH:MM-HH:MM [ZONE]"),
])
def test_a_malformed_window_is_one_config_error(text: str, said: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_window(text)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def gameday_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "step-summary.md")
    return subprocess.run([sys.executable, "-m", "gameday", "run", "--stack", "eip-self-healing",
                           "--report-dir", str(reports), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_gameday_run_outside_its_window_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # A whole day three days from now (UTC) can never hold now.
    other_day = DAYS[(datetime.now(UTC) + timedelta(days=3)).weekday()]
    done = gameday_run(tmp_path, "--window", f"{other_day} 00:00-24:00 UTC")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("gameday run: refused: now is ")
    assert done.stderr.strip().endswith(f"outside the allowed window {other_day} 00:00-24:00")
    assert done.stderr.strip().count("\n") == 0 and done.stdout == ""
    assert list((tmp_path / "reports").iterdir()) == []  # no run folder: localcloud never started
    assert "refused: now is" in (tmp_path / "step-summary.md").read_text()  # the CI job says why it is empty


def test_a_window_from_the_budgets_file_is_honoured_and_a_malformed_one_refused(tmp_path: Path) -> None:
    other_day = DAYS[(datetime.now(UTC) + timedelta(days=3)).weekday()]
    gate = tmp_path / "gate.toml"
    gate.write_text(f'extends = "{ROOT / "gameday.toml"}"\n[schedule]\nwindows = ["{other_day} 00:00-24:00"]\n')
    done = gameday_run(tmp_path, "--budgets", str(gate))
    assert done.returncode == 2 and "refused: now is " in done.stderr, done.stderr
    gate.write_text(f'extends = "{ROOT / "gameday.toml"}"\n[schedule]\nwindows = ["someday 10:00-11:00"]\n')
    done = gameday_run(tmp_path, "--budgets", str(gate))
    assert done.returncode == 2 and "error: window 'someday 10:00-11:00': unknown day 'someday'" in done.stderr
    assert done.stderr.strip().count("\n") == 0
