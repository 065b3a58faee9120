"""fixtures/load.py: the --load options (declared in gameday.options, registered by fixtures.backend) and the
`load` fixture, in a pytest sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _importable_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox runs outside the repository: let it import `fixtures` and `gameday`."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))

SCENARIO = """
from gameday.timeline import Timeline

def test_scenario(load, tmp_path):
    timeline = Timeline("r", 0.0, 0.0)
    with load.running("http://127.0.0.1:9/", tmp_path, timeline) as run:
        assert run is None
    assert not load.enabled and timeline.samples == [] and timeline.events == []

def test_settings(load_settings):
    print("SETTINGS", load_settings)
"""


def test_load_defaults_to_none_and_is_a_no_op(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SCENARIO)
    result = pytester.runpytest_subprocess("-p", "fixtures.backend", "-p", "fixtures.load", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*SETTINGS LoadSettings(choice='none', users=None, rate=None*"])


def test_shape_users_and_rate_come_from_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SCENARIO)
    result = pytester.runpytest_subprocess("-p", "fixtures.backend", "-p", "fixtures.load", "-s", "-k", "settings",
                                           "--load", "10x",
                                           "--load-users", "3", "--load-rate", "12.5")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*choice='10x', users=3, rate=12.5*"])


def test_an_unknown_shape_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SCENARIO)
    result = pytester.runpytest_subprocess("-p", "fixtures.backend", "-p", "fixtures.load", "--load", "spike")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--load: invalid choice: 'spike'*"])


def test_help_lists_the_options_in_the_gameday_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "fixtures.backend", "-p", "fixtures.load", "--help")
    result.stdout.fnmatch_lines(["gameday*", "*--load={none,steady,10x,soak}*", "*--load-users=N*",
                                 "*--load-rate=RPS*"])
