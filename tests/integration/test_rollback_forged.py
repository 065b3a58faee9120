"""`gameday rollback` on a journal turned against its user: a revert aimed outside the run, at a stack of a
run whose id merely starts with this one's, in an account the configuration does not allow, or at a resource
recreated under the same name. Each is refused in one line (exit 2) and changes nothing; a genuine journal
still replays. Through the front door (`python -m gameday rollback`) against a moto server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.faults import RollbackJournal, ScaleEcsService, backend_ref
from gameday.faults import identity as identity_mod
from tests.integration.test_aws_sandbox import (
    ACCOUNT,
    ROOT,
    RUN_TAG,
    World,
    aws_backend,
    build_world,
    child_env,
    client,
    moto_server,
    set_aws_env,
    snapshot,
)

pytestmark = pytest.mark.integration

REGION = "ap-southeast-4"
RUN = "forged"
BUCKET_STACK = json.dumps({"Resources": {"Site": {"Type": "AWS::S3::Bucket"}}})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    with moto_server() as url:
        yield url, build_world(url, REGION, RUN)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_env(monkeypatch)


def rollback(journal: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gameday", "rollback", "--journal", str(journal), *extra],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120)


def ref(url: str, run_id: str | None = RUN, account: str = ACCOUNT) -> dict[str, Any]:
    return {"name": "aws", "region": REGION, "endpoint_url": url, "account": account, "run_id": run_id,
            "existing_stacks": None}


def service(url: str, cluster: str, name: str = "web", desired: int = 2, run_id: str | None = None) -> dict[str, Any]:
    ecs = client(url, REGION, "ecs")
    tags = [{"key": RUN_TAG, "value": run_id}] if run_id else []
    ecs.create_cluster(clusterName=cluster, tags=tags)
    ecs.register_task_definition(family=f"td-{cluster}", containerDefinitions=[{"name": "w", "image": "x",
                                                                                 "memory": 64}])
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=f"td-{cluster}", desiredCount=desired,
                       tags=tags)
    return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])


def desired(url: str, cluster: str, name: str = "web") -> int:
    found = client(url, REGION, "ecs").describe_services(cluster=cluster, services=[name])["services"]
    return int(found[0]["desiredCount"])


def bucket_stack(url: str, stack: str, run_tag: str) -> str:
    cfn = client(url, REGION, "cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=BUCKET_STACK, Tags=[{"Key": RUN_TAG, "Value": run_tag}])
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return str(resources[0]["PhysicalResourceId"])


def objects_revert(url: str, bucket: str) -> dict[str, Any]:
    created = identity_mod.bucket_created(client(url, REGION, "s3"), bucket)
    return {"bucket": bucket, "region": None, "objects": {"planted": {"body": "cGxhbnRlZA==", "content_type": ""}},
            identity_mod.KEY: identity_mod.of(bucket, created)}


def keys(url: str, bucket: str) -> list[str]:
    return [o["Key"] for o in client(url, REGION, "s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_revert_aimed_at_a_service_of_no_stack_of_the_run_is_refused(sandbox: tuple[str, World],
                                                                       tmp_path: Path) -> None:
    url, world = sandbox
    outsider = service(url, "c-outsider")  # untagged, in no stack: what a forged journal aims at
    before = snapshot(url, world)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    journal.record("scale-ecs-service", outsider["serviceArn"], "ecs.restore-desired-count",
                   {"cluster": "c-outsider", "service": outsider["serviceArn"], "desired": 0,
                    identity_mod.KEY: identity_mod.of(outsider["serviceArn"], outsider.get("createdAt"))},
                   backend=ref(url))

    done = rollback(journal.path, "--allow-account", ACCOUNT)

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "refused" in done.stderr and "outside the blast radius" in done.stderr
    assert "Traceback" not in done.stderr
    assert desired(url, "c-outsider") == 2 and snapshot(url, world) == before
    assert [e.state for e in journal.unfinished()] == ["pending"]


def test_a_stack_tagged_with_a_longer_run_id_is_not_the_runs_but_its_own_stack_is(sandbox: tuple[str, World],
                                                                                  tmp_path: Path) -> None:
    url, _ = sandbox
    theirs = bucket_stack(url, "gd-forged-x1-site", f"{RUN}-x1")  # run `forged-x1`: starts with `forged`
    ours = bucket_stack(url, "gd-forged-site", RUN)
    forged = RollbackJournal(tmp_path / "forged.jsonl")
    forged.record("objects-missing", theirs, "s3.restore-objects", objects_revert(url, theirs), backend=ref(url))
    genuine = RollbackJournal(tmp_path / "genuine.jsonl")
    genuine.record("objects-missing", ours, "s3.restore-objects", objects_revert(url, ours), backend=ref(url))

    refused = rollback(forged.path, "--allow-account", ACCOUNT)
    replayed = rollback(genuine.path, "--allow-account", ACCOUNT)

    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"refused: objects-missing on {theirs}" in refused.stdout and "outside the blast radius" in refused.stdout
    assert f"not tagged aws:cloudformation:stack-name=gd-forged-site or {RUN_TAG}={RUN}" in refused.stdout
    assert keys(url, theirs) == [] and len(forged.unfinished()) == 1
    assert replayed.returncode == 0, replayed.stderr
    assert keys(url, ours) == ["planted"] and genuine.unfinished() == []


def test_an_account_the_configuration_does_not_allow_is_refused_then_a_genuine_journal_replays(
        sandbox: tuple[str, World], tmp_path: Path) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    with aws_backend(url, REGION, RUN) as backend:  # a runner killed mid-fault: journalled, injected
        fault = ScaleEcsService(backend, world.cluster, world.service, 0)
        plan = fault.plan()
        journal.record(fault.name, fault.target, plan.revert.kind, plan.revert.params, backend=backend_ref(backend))
        fault.inject()
    broken = snapshot(url, world)
    config = tmp_path / "gameday.toml"
    config.write_text('[aws]\nallow_accounts = ["111111111111"]\n')

    no_list = rollback(journal.path)
    other_account = rollback(journal.path, "--config", str(config))
    genuine = rollback(journal.path, "--allow-account", ACCOUNT)

    assert no_list.returncode == 2 and no_list.stderr.count("\n") == 1
    assert "no account is allowed by the configuration" in no_list.stderr
    assert other_account.returncode == 2 and other_account.stderr.count("\n") == 1
    assert f"injected in account {ACCOUNT}, which is not an allowed account (111111111111)" in other_account.stderr
    assert broken["ecs_desired_count"] == 0
    assert genuine.returncode == 0, genuine.stderr
    assert snapshot(url, world) == before and journal.unfinished() == []


def test_a_service_recreated_under_the_same_name_is_refused(sandbox: tuple[str, World], tmp_path: Path) -> None:
    url, _ = sandbox
    service(url, "c-recreated", desired=3, run_id=RUN)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    with aws_backend(url, REGION, RUN) as backend:
        fault = ScaleEcsService(backend, "c-recreated", "web", 0)
        plan = fault.plan()
        journal.record(fault.name, fault.target, plan.revert.kind, plan.revert.params, backend=backend_ref(backend))
        fault.inject()
    ecs = client(url, REGION, "ecs")
    ecs.delete_service(cluster="c-recreated", service="web", force=True)
    ecs.create_service(cluster="c-recreated", serviceName="web", taskDefinition="td-c-recreated", desiredCount=1,
                       tags=[{"key": RUN_TAG, "value": RUN}])  # same name, same ARN, same run: another service

    done = rollback(journal.path, "--allow-account", ACCOUNT)

    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "is not the resource the fault touched" in done.stdout and "it was recreated" in done.stdout
    assert desired(url, "c-recreated") == 1
    assert [e.state for e in journal.unfinished()] == ["pending"]
