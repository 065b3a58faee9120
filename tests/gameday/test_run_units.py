"""How `gameday run` shares the core game day out among its pytest children (gameday.cli.units), with the
reference kits' own scenario specs and the scenario times of a real fast-profile run on localcloud."""

from __future__ import annotations

import json
from pathlib import Path

from gameday.cli.units import CHILD_START_S, UNTIMED_S, Timings, _makespan, measured_timings, plan_units
from gameday.kits import load_kits

KITS = load_kits(None)
STACKS = KITS.ids()
SPECS = KITS.scenarios(STACKS, extended=False, backend="localcloud")
# Seconds from each scenario's start to its last sample in a fast-profile run with three children at a time.
TIMED = {"static-ip-haproxy/terminate-proxy": 26.0, "static-ip-haproxy/block-az-sg": 31.0,
         "static-ip-haproxy/block-az-nacl": 31.0, "static-ip-haproxy/blue-green-switch": 25.0,
         "static-ip-haproxy/backend-loss": 30.0, "eip-self-healing/terminate-instance": 34.0,
         "origin-group/region-unreachable": 7.0, "origin-group/deny-bucket-policy": 7.0,
         "origin-group/objects-missing": 7.0, "dns-failover-fargate/scale-to-zero-and-back": 20.0,
         "spot-vpc-origin/spot-interruption": 40.0}


def _played(units: list) -> list[str]:
    return sorted(spec.scenario_id for unit in units for spec in unit.specs)


def test_auto_splits_the_stack_whose_scenarios_in_a_row_outlast_the_rest() -> None:
    units = plan_units(SPECS, STACKS, "auto", 4, Timings(TIMED))
    per_stack = plan_units(SPECS, STACKS, "stack", 4, Timings(TIMED))

    assert sum(1 for u in units if u.stack == "static-ip-haproxy") >= 2
    assert _played(units) == sorted(s.scenario_id for s in SPECS)  # every scenario once, none twice
    assert [u.estimate_s for u in units] == sorted((u.estimate_s for u in units), reverse=True)
    assert _makespan(units, 4) < 0.7 * _makespan(per_stack, 4)  # 158 s of static-ip-haproxy in a row before


def test_auto_with_one_child_at_a_time_splits_nothing() -> None:
    units = plan_units(SPECS, STACKS, "auto", 1, Timings(TIMED))

    assert all(u.whole_stack for u in units)
    assert sorted(u.name for u in units) == sorted({s.stack_id for s in SPECS})


def test_stack_and_scenario_splits_are_as_named() -> None:
    per_stack = plan_units(SPECS, STACKS, "stack", 3, Timings())
    per_scenario = plan_units(SPECS, STACKS, "scenario", 3, Timings())

    assert sorted(u.name for u in per_stack) == sorted({s.stack_id for s in SPECS})
    assert per_stack[0].name == "static-ip-haproxy"  # most scenarios, untimed: longest first
    assert sorted(u.name for u in per_scenario) == sorted(f"{s.stack_id}.{s.name}" for s in SPECS)
    assert all(u.estimate_s == CHILD_START_S + UNTIMED_S for u in per_scenario)


def _report(folder: Path, run_id: str, profile: str, took: float, interrupted: bool = False,
            verdict: str = "passed", child_s: float | None = None) -> None:
    (folder / run_id / "parts").mkdir(parents=True)
    samples = [{"probe": "http:eip", "sent_mono": 1.0}, {"probe": "http:eip", "sent_mono": took}]
    row = {"stack": "eip-self-healing", "scenario": "terminate-instance", "verdict": verdict,
           "timeline": {"labels": {"scenario": "terminate-instance"}, "samples": samples}}
    (folder / run_id / "report.json").write_text(json.dumps(
        {"backend": "localcloud", "profile": profile, "interrupted": interrupted, "scenarios": [row]}))
    if child_s is not None:  # what `gameday run` leaves in parts/: the child's progress and pytest's log
        parts = folder / run_id / "parts"
        (parts / "eip-self-healing.progress.jsonl").write_text(json.dumps(
            {"stack": "eip-self-healing", "scenario": "terminate-instance", "since_fault_s": 0.0}) + "\n")
        (parts / "eip-self-healing.log").write_text(f".\n1 passed, 5 deselected in {child_s:.2f}s\n")


def test_timings_come_from_the_newest_passing_run_of_the_same_profile(tmp_path: Path) -> None:
    _report(tmp_path, "20261205-100000-aaaa", "fast", 30.0, child_s=50.0)
    _report(tmp_path, "20261205-110000-bbbb", "fast", 25.0, child_s=47.0)
    _report(tmp_path, "20261205-120000-cccc", "realistic", 300.0, child_s=400.0)
    _report(tmp_path, "20261205-130000-dddd", "fast", 5.0, interrupted=True)
    _report(tmp_path, "20261205-140000-eeee", "fast", 3.0, verdict="failed", child_s=9.0)  # cut short

    timings = measured_timings(tmp_path, "localcloud", "fast")

    assert timings.scenarios == {"eip-self-healing/terminate-instance": 25.0}
    assert timings.child_start == {"eip-self-healing": 22.0}  # 47 s of pytest less 25 s of scenario
    assert measured_timings(tmp_path, "aws", "fast") == Timings()


def test_a_report_whose_timeline_is_a_file_is_timed_by_its_duration(tmp_path: Path) -> None:
    (tmp_path / "20261205-150000-ffff").mkdir()
    row = {"stack": "eip-self-healing", "scenario": "terminate-instance", "verdict": "passed",
           "timeline": {"file": "timelines/eip-self-healing.terminate-instance.1.jsonl.gz", "duration_s": 27.5,
                        "labels": {"scenario": "terminate-instance"}}}
    (tmp_path / "20261205-150000-ffff" / "report.json").write_text(json.dumps(
        {"backend": "localcloud", "profile": "fast", "scenarios": [row]}))

    assert measured_timings(tmp_path, "localcloud", "fast").scenarios == {"eip-self-healing/terminate-instance": 27.5}


def test_a_stack_whose_children_cost_more_is_split_sooner() -> None:
    cheap = plan_units(SPECS, STACKS, "auto", 4, Timings(TIMED))
    costly = plan_units(SPECS, STACKS, "auto", 5, Timings(TIMED, {"static-ip-haproxy": 35.0}))

    assert sum(1 for u in cheap if u.stack == "static-ip-haproxy") == 2
    assert sum(1 for u in costly if u.stack == "static-ip-haproxy") == 3


def test_a_users_k_narrows_each_split_child_instead_of_replacing_its_selection(tmp_path: Path) -> None:
    from gameday.cli import build_parser
    from gameday.cli import run as run_cli
    from gameday.run import RunPaths

    args = build_parser().parse_args(["run", "--stack", "static-ip-haproxy", "--split", "scenario",
                                      "-k", "block", "--report-dir", str(tmp_path)])
    plan = run_cli._check(args)
    units = run_cli._units(args, plan)
    commands = {name: run_cli._command(args, RunPaths.create(None, tmp_path), name, unit)
                for name, unit in units.items()}

    for name, command in commands.items():
        keywords = [command[i + 1] for i, word in enumerate(command) if word == "-k"]
        assert keywords == [f"({name.split('.', 1)[1]}) and (block)"], command  # pytest keeps the last -k only
