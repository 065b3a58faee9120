"""Pre-flight checks without a deployment: the prediction against the budget (also before the deploy, from the
template and --param), N-1 capacity, the refusal's lines, and the front door refusing before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gameday.kits import load_kits
from gameday.kits.preflight import before_deploy, budget_of
from gameday.model import Prediction, fixed
from gameday.preflight import Check, PreflightRefused, n_minus_one, refuse_if_failed, within_budget
from localcloud import profiles

ROOT = Path(__file__).resolve().parents[2]
FAST = profiles.load("fast")
SLOW_CHECKS = "static-ip-haproxy.HealthCheckInterval=30"


def _prediction(*seconds: float) -> Prediction:
    return Prediction("s", "f", "fast", tuple(fixed(f"p{i}", s, f"source {i}") for i, s in enumerate(seconds)))


def test_a_prediction_within_the_budget_passes() -> None:
    check = within_budget("s/x", _prediction(4.0, 5.0), 10.0)

    assert check.ok and "predicted 9.00 s" in check.detail and "within the budget 10.00 s" in check.detail


def test_a_prediction_over_the_budget_fails_naming_its_longest_phase() -> None:
    check = within_budget("s/x", _prediction(4.0, 8.0), 10.0)

    assert not check.ok
    assert "predicted 12.00 s" in check.detail and "OVER the budget 10.00 s" in check.detail
    assert "longest phase p1 8.00 s (source 1)" in check.detail


@pytest.mark.parametrize(("load_rps", "ok"), [(7500.0, True), (7501.0, False), (None, True)])
def test_three_of_four_nodes_must_carry_the_configured_load(load_rps: float | None, ok: bool) -> None:
    check = n_minus_one("proxies", 4, 2500.0, load_rps, "kit constant")

    assert check.ok is ok
    assert "3 of 4 nodes" in check.detail


def test_one_node_has_no_n_minus_one() -> None:
    assert not n_minus_one("proxies", 1, 2500.0, 10.0, "kit constant").ok


def test_a_refusal_has_one_line_per_failed_check_and_none_for_the_passed() -> None:
    checks = [Check("a", "one", True, "fine"), Check("b", "two", False, "bad"), Check("c", "three", False, "worse")]

    with pytest.raises(PreflightRefused) as refused:
        refuse_if_failed(checks)

    assert str(refused.value).splitlines() == ["pre-flight refused b: two: bad", "pre-flight refused c: three: worse"]
    assert refuse_if_failed(checks[:1]) == checks[:1]


def _before_deploy(params: dict[str, dict[str, str]], stack: str = "static-ip-haproxy") -> list[Check]:
    kits = load_kits(None)
    return before_deploy(kits, kits.scenarios([stack]), params, FAST,
                         budget_of("fast", ROOT / "gameday.toml"))


def test_before_the_deploy_a_longer_health_check_interval_is_over_the_budget() -> None:
    checks = _before_deploy({"static-ip-haproxy": {"HealthCheckInterval": "30"}})

    failed = {c.subject for c in checks if not c.ok}
    assert {"static-ip-haproxy/terminate-proxy", "static-ip-haproxy/backend-loss"} <= failed
    assert all("before the deploy" in c.detail for c in checks)


def test_before_the_deploy_nothing_is_judged_without_a_param_or_with_one_the_prediction_ignores() -> None:
    assert _before_deploy({}) == []
    assert _before_deploy({"static-ip-haproxy": {"InstanceType": "t3.large"}}) == []


def test_a_prediction_the_template_defaults_already_miss_is_left_to_the_deployed_check() -> None:
    # spot-vpc-origin's kit passes its record TTL at deploy time: from the template alone the prediction is
    # over the fast budget whatever --param says, so it is not judged before the deploy.
    assert _before_deploy({"spot-vpc-origin": {"TerminationCleanup": "true"}}, "spot-vpc-origin") == []


def _gameday(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", *args], cwd=cwd, capture_output=True, text=True,
                           timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_gameday_preflight_refuses_a_param_that_breaks_the_budget_before_deploying(tmp_path: Path) -> None:
    done = _gameday("preflight", "--stack", "static-ip-haproxy", "--param", SLOW_CHECKS, cwd=tmp_path)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 4 and all("pre-flight refused static-ip-haproxy/" in line for line in lines)
    assert lines[0].startswith("gameday preflight: error: pre-flight refused")
    assert "deploying" not in done.stdout  # refused before any stack exists


def test_gameday_run_refuses_the_same_input_before_any_child_starts(tmp_path: Path) -> None:
    done = _gameday("run", "--stack", "static-ip-haproxy", "--param", SLOW_CHECKS, "--report-dir",
                    str(tmp_path / "reports"), "--run-id", "pf-unit", cwd=tmp_path)

    assert done.returncode == 2
    assert "OVER the budget 15.00 s" in done.stderr
    assert not (tmp_path / "reports" / "pf-unit" / "rollback.jsonl").exists()  # no journal: nothing injected
