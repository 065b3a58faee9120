"""The scheduled game day's workflow and CloudFormation template are valid and say what the docs say: the
workflow against GitHub's workflow schema (SchemaStore's, as vendored by check-jsonschema), its actions pinned by
commit, its stacks those of the kit registry, its shell steps parseable; the deploy template cfn-lint clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.kits import load_kits

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "gameday.yml"
TEMPLATE = ROOT / "deploy" / "scheduled-gameday.yaml"
PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, …) read as plain values."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_the_workflow_matches_githubs_workflow_schema() -> None:
    done = schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "gameday.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"))
    assert schema_check(broken).returncode != 0


def test_scheduled_and_by_hand_with_stack_profile_and_backend() -> None:
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"]
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert {"stack", "profile", "backend"} <= set(inputs)
    assert inputs["backend"]["options"] == ["local", "aws"]
    assert inputs["stack"]["options"] == ["all", *load_kits().ids()]


def test_the_matrix_is_every_stack_of_the_registry() -> None:
    job = workflow()["jobs"]["gameday"]
    stacks = re.search(r"'(\[.*?\])'", job["strategy"]["matrix"]["stack"])
    assert stacks and yaml.safe_load(stacks.group(1)) == load_kits().ids()
    assert job["strategy"]["fail-fast"] is False


def test_every_action_is_pinned_by_commit_and_the_report_is_kept() -> None:
    steps = workflow()["jobs"]["gameday"]["steps"]
    used = [step["uses"] for step in steps if "uses" in step]
    assert used and all(PINNED.fullmatch(u) for u in used), used
    by_action = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}
    assert by_action["actions/upload-artifact"]["with"]["path"] == "reports/"
    assert by_action["dorny/test-reporter"]["with"]["reporter"] == "java-junit"
    assert "junit.xml" in by_action["dorny/test-reporter"]["with"]["path"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_every_shell_step_parses() -> None:
    scripts = [step["run"] for step in workflow()["jobs"]["gameday"]["steps"] if "run" in step]
    template = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)  # CloudFormation tags read as data
    buildspec = yaml.safe_load(template["Resources"]["GamedayProject"]["Properties"]["Source"]["BuildSpec"])
    scripts += [command for phase in buildspec["phases"].values() for command in phase["commands"]]
    for script in scripts:
        done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, (script, done.stderr)


def test_the_deploy_template_is_cfn_lint_clean() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_deploy_template_runs_gameday_on_aws_with_an_s3_history() -> None:
    text = TEMPLATE.read_text()
    for needed in ("AWS::Scheduler::Schedule", "AWS::CodeBuild::Project", "--backend aws",
                   '--history "s3://$GAMEDAY_BUCKET/history"', "--allow-account", "ScheduleExpression"):
        assert needed in text
