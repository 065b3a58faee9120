"""gameday.load.config: loopback-only targets, per-shape defaults, and the count bound."""

from __future__ import annotations

import pytest

from gameday.errors import ConfigError
from gameday.load.config import UNPACED_REQUEST_CAP, LoadConfig, check_target
from gameday.load.runner import LoadFiles, locust_command


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/", "http://127.9.3.4/health?x=1", "https://[::1]:8443/",
                                 "http://localhost/", "http://[::ffff:127.0.0.7]/"])
def test_loopback_targets_are_accepted(url: str) -> None:
    target = check_target(url)
    assert target.url == url and target.path.startswith("/")


@pytest.mark.parametrize(("url", "why"), [
    ("http://10.0.0.1/", "loopback"), ("http://8.8.8.8/", "loopback"), ("http://[2001:db8::1]/", "loopback"),
    ("http://example.com/", "not the name"), ("ftp://127.0.0.1/", "http"), ("127.0.0.1:80", "http"),
])
def test_anything_else_is_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        check_target(url)
    assert "\n" not in str(info.value)


def test_target_path_and_query_become_the_requested_path() -> None:
    target = check_target("http://127.0.0.2:81/status?verbose=1")
    assert (target.host_url, target.path) == ("http://127.0.0.2:81", "/status?verbose=1")


def test_shape_defaults_and_overrides() -> None:
    config = LoadConfig.for_shape("10x", users=4, rate=None)
    assert (config.shape, config.users, config.rate, config.peak_users) == ("10x", 4, 50.0, 40)
    assert config.peak_rate == 500.0
    assert LoadConfig.for_shape("soak").duration_s > LoadConfig.for_shape("steady").duration_s


def test_the_request_budget_bounds_every_run() -> None:
    paced = LoadConfig(rate=100.0, duration_s=60.0, processes=2)
    assert paced.request_budget >= 100 * 60
    assert paced.request_budget_per_process * 2 >= paced.request_budget
    assert LoadConfig(rate=None).request_budget == UNPACED_REQUEST_CAP
    assert LoadConfig(max_requests=7).request_budget == 7


@pytest.mark.parametrize("changes", [{"shape": "spike"}, {"users": 0}, {"rate": 0.0}, {"duration_s": 0},
                                     {"processes": 2, "expect_workers": 2}])
def test_bad_configs_are_config_errors(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LoadConfig(**changes)  # type: ignore[arg-type]


def test_the_command_stays_on_loopback_and_headless(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = LoadConfig(processes=2)
    command = locust_command(config, check_target("http://127.0.0.1:9/"), LoadFiles(tmp_path), 5599)

    assert "--headless" in command
    assert command[command.index("--master-bind-host") + 1] == "127.0.0.1"
    assert command[command.index("--processes") + 1] == "2"
    assert command[command.index("--master-port") + 1] == "5599"
    assert "--web-host" not in command  # headless: no web UI, so nothing listens on 0.0.0.0
