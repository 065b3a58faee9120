"""The faults against a moto server posing as AWS: plan changes nothing, inject breaks exactly what it says,
the revert (from the journal's data alone) puts everything back, twice is harmless, refusals change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.backends.aws import AwsBackend
from gameday.clock import FakeClock
from gameday.errors import FaultError
from gameday.faults import (
    BlockAzNacl,
    BlockAzSecurityGroups,
    CapacityThrash,
    DenyBucketPolicy,
    Fault,
    RollbackJournal,
    ScaleEcsService,
    injected,
    run_revert,
)
from gameday.guards import TargetRefused
from gameday.timeline import Timeline
from tests.integration.test_aws_sandbox import (
    World,
    aws_backend,
    build_world,
    client,
    differences,
    moto_server,
    set_aws_env,
    snapshot,
)

pytestmark = pytest.mark.integration

REGION = "ap-south-2"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[str, World]]:
    with moto_server() as url:
        yield url, build_world(url, REGION, "faults")


@pytest.fixture
def backend(sandbox: tuple[str, World], monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsBackend]:
    set_aws_env(monkeypatch)
    with aws_backend(sandbox[0], REGION, "faults") as backend:
        yield backend


FaultFactory = Callable[[AwsBackend, World], Fault]
FAULTS: dict[str, tuple[FaultFactory, set[str]]] = {
    "swap": (lambda b, w: BlockAzSecurityGroups(b, w.vpc, w.az_a), {"instance_groups", "interface_groups",
                                                                   "security_group_rules"}),
    "strip": (lambda b, w: BlockAzSecurityGroups(b, w.vpc, w.az_a, mode="strip"), {"security_group_rules"}),
    "nacl": (lambda b, w: BlockAzNacl(b, w.vpc, w.az_a), {"network_acls", "nacl_associations"}),
    "ecs": (lambda b, w: ScaleEcsService(b, w.cluster, w.service, 0), {"ecs_desired_count"}),
    "policy": (lambda b, w: DenyBucketPolicy(b, w.bucket_with_policy), {"bucket_policies"}),
    "no-policy": (lambda b, w: DenyBucketPolicy(b, w.bucket_without_policy), {"bucket_policies"}),
}


@pytest.mark.parametrize("name", FAULTS)
def test_inject_breaks_what_it_says_and_journal_data_alone_reverts_it(
        name: str, sandbox: tuple[str, World], backend: AwsBackend) -> None:
    url, world = sandbox
    factory, touched = FAULTS[name]
    before = snapshot(url, world)
    fault = factory(backend, world)

    plan = fault.plan()
    assert snapshot(url, world) == before  # planning changes nothing
    fault.inject()
    broken = snapshot(url, world)
    params = json.loads(json.dumps(dict(plan.revert.params)))  # what the journal keeps
    run_revert(backend, plan.revert.kind, params)
    restored = snapshot(url, world)
    run_revert(backend, plan.revert.kind, params)  # replaying again is harmless

    assert set(differences(before, broken)) == touched
    assert restored == before
    assert snapshot(url, world) == before


def test_plan_lists_targets_with_their_tags_and_the_revert(sandbox: tuple[str, World], backend: AwsBackend) -> None:
    _, world = sandbox

    plan = BlockAzSecurityGroups(backend, world.vpc, world.az_a).plan()

    assert sorted(t.resource_id for t in plan.targets) == sorted(world.instances_a)
    assert all(t.tags.get("gameday:run") == "faults" for t in plan.targets)
    assert plan.revert.kind == "ec2.restore-interface-groups"
    assert "quarantine" in plan.action and "original security groups" in plan.revert.description


def test_swap_really_moves_interfaces_to_a_rule_less_group(sandbox: tuple[str, World], backend: AwsBackend) -> None:
    url, world = sandbox
    ec2 = client(url, REGION, "ec2")
    fault = BlockAzSecurityGroups(backend, world.vpc, world.az_a)
    plan = fault.plan()
    fault.inject()
    try:
        instance = ec2.describe_instances(InstanceIds=[world.instances_a[0]])["Reservations"][0]["Instances"][0]
        (quarantine,) = {g["GroupId"] for g in instance["SecurityGroups"]}
        group = ec2.describe_security_groups(GroupIds=[quarantine])["SecurityGroups"][0]
        other = ec2.describe_instances(InstanceIds=[world.instance_b])["Reservations"][0]["Instances"][0]
    finally:
        run_revert(backend, plan.revert.kind, plan.revert.params)

    assert quarantine not in (world.sg_a, world.sg_b)
    assert group["IpPermissions"] == [] and group["IpPermissionsEgress"] == []
    assert [g["GroupId"] for g in other["SecurityGroups"]] == [world.sg_b]  # the other zone is untouched


def test_nacl_clone_denies_all_but_the_subnet_itself(sandbox: tuple[str, World], backend: AwsBackend) -> None:
    url, world = sandbox
    ec2 = client(url, REGION, "ec2")
    fault = BlockAzNacl(backend, world.vpc, world.az_a)
    plan = fault.plan()
    fault.inject()
    try:
        acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id",
                                                  "Values": [world.subnet_a]}])["NetworkAcls"][0]
        b_acl = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id",
                                                    "Values": [world.subnet_b]}])["NetworkAcls"][0]
    finally:
        run_revert(backend, plan.revert.kind, plan.revert.params)

    first = sorted((e["RuleNumber"], e["Egress"], e["RuleAction"], e.get("CidrBlock", e.get("Ipv6CidrBlock")))
                   for e in acl["Entries"] if e["RuleNumber"] <= 4)
    assert (1, False, "allow", "10.9.1.0/24") in first and (2, False, "deny", "0.0.0.0/0") in first
    assert (2, True, "deny", "0.0.0.0/0") in first and (4, True, "deny", "::/0") in first
    assert any(e["RuleNumber"] == 100 for e in acl["Entries"])  # a clone: the original's entries follow
    assert acl["NetworkAclId"] != world.custom_nacl and b_acl["NetworkAclId"] != acl["NetworkAclId"]


def test_a_second_nacl_fault_while_the_first_is_in_place_is_refused(sandbox: tuple[str, World],
                                                                     backend: AwsBackend) -> None:
    url, world = sandbox
    first = BlockAzNacl(backend, world.vpc, world.az_a)
    plan = first.plan()
    first.inject()
    try:
        with pytest.raises(FaultError, match="blocking ACL of an earlier fault: run `gameday rollback` first"):
            BlockAzNacl(backend, world.vpc, world.az_a).plan()
    finally:
        run_revert(backend, plan.revert.kind, plan.revert.params)


def test_strip_is_refused_when_a_group_also_serves_another_zone(sandbox: tuple[str, World],
                                                                backend: AwsBackend) -> None:
    url, world = sandbox
    ec2 = client(url, REGION, "ec2")
    eni = ec2.describe_instances(InstanceIds=[world.instance_b])["Reservations"][0]["Instances"][0][
        "NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[world.sg_b, world.sg_a])
    try:
        with pytest.raises(FaultError, match=f"strip would also cut off {world.sg_a}'s interfaces in {world.az_b}"):
            BlockAzSecurityGroups(backend, world.vpc, world.az_a, mode="strip").plan()
    finally:
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[world.sg_b])


def test_deny_statement_keeps_the_way_back_and_revert_never_clobbers_a_newer_policy(
        sandbox: tuple[str, World], backend: AwsBackend) -> None:
    url, world = sandbox
    s3 = client(url, REGION, "s3")
    fault = DenyBucketPolicy(backend, world.bucket_without_policy)
    plan = fault.plan()
    fault.inject()
    deny = json.loads(s3.get_bucket_policy(Bucket=world.bucket_without_policy)["Policy"])["Statement"][-1]
    newer = json.dumps({"Version": "2012-10-17", "Statement": []})
    s3.put_bucket_policy(Bucket=world.bucket_without_policy, Policy=newer)  # someone changed it since

    run_revert(backend, plan.revert.kind, plan.revert.params)

    assert deny["Effect"] == "Deny" and "s3:PutBucketPolicy" in deny["NotAction"]
    assert s3.get_bucket_policy(Bucket=world.bucket_without_policy)["Policy"] == newer
    s3.delete_bucket_policy(Bucket=world.bucket_without_policy)


class _Spy:
    """A fault that records what the journal held when inject ran."""

    name = "spy"

    def __init__(self, inner: Fault, journal: RollbackJournal) -> None:
        self.inner, self.journal, self.seen_at_inject = inner, journal, []  # type: ignore[var-annotated]

    @property
    def target(self) -> str:
        return self.inner.target

    def plan(self) -> Any:
        return self.inner.plan()

    def inject(self) -> None:
        self.seen_at_inject = [e.state for e in self.journal.entries()]
        self.inner.inject()


def test_injected_journals_before_inject_and_reverts_on_error(sandbox: tuple[str, World], backend: AwsBackend,
                                                              tmp_path: Path) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    spy = _Spy(ScaleEcsService(backend, world.cluster, world.service, 0), journal)
    clock = FakeClock()

    with pytest.raises(RuntimeError, match="assertion in the watch"):
        with injected(spy, backend=backend, journal=journal, timeline=Timeline.begin("t", clock), clock=clock):
            assert snapshot(url, world)["ecs_desired_count"] == 0
            raise RuntimeError("assertion in the watch")

    assert spy.seen_at_inject == ["pending"]
    (entry,) = journal.entries()
    assert entry.state == "reverted"
    assert entry.backend == {"name": "aws", "region": REGION, "endpoint_url": url, "account": "123456789012",
                             "run_id": "faults", "existing_stacks": None}  # the blast radius, for a replay
    assert snapshot(url, world) == before


@pytest.mark.parametrize("make", [
    lambda b, w: BlockAzSecurityGroups(b, w.outsider_vpc, w.az_a),
    lambda b, w: DenyBucketPolicy(b, w.outsider_bucket),
], ids=["instance-outside", "bucket-outside"])
def test_target_outside_the_blast_radius_is_refused_and_nothing_changes(
        make: FaultFactory, sandbox: tuple[str, World], backend: AwsBackend, tmp_path: Path) -> None:
    url, world = sandbox
    before = snapshot(url, world)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    clock = FakeClock()

    with pytest.raises(TargetRefused) as refused:
        with injected(make(backend, world), backend=backend, journal=journal, timeline=Timeline.begin("t", clock),
                      clock=clock):
            pytest.fail("the fault must not be injected")

    message = str(refused.value)
    assert message.startswith("refused: ") and "\n" not in message
    assert "outside the blast radius" in message and "resources tagged gameday:run=faults" in message
    assert journal.entries() == []
    assert snapshot(url, world) == before


def test_swap_restores_an_instance_that_has_no_group_of_its_own(sandbox: tuple[str, World],
                                                                 backend: AwsBackend) -> None:
    url, world = sandbox
    ec2 = client(url, REGION, "ec2")
    bare = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=world.subnet_a,
                             TagSpecifications=[{"ResourceType": "instance",
                                                 "Tags": [{"Key": "gameday:run", "Value": "faults"}]}]
                             )["Instances"][0]["InstanceId"]  # like moto's CloudFormation instances
    try:
        before = snapshot(url, world)
        fault = BlockAzSecurityGroups(backend, world.vpc, world.az_a)
        plan = fault.plan()
        fault.inject()
        broken = snapshot(url, world)
        run_revert(backend, plan.revert.kind, plan.revert.params)

        assert before["instance_groups"][bare] == []
        assert broken["interface_groups"] != before["interface_groups"]
        assert snapshot(url, world) == before
    finally:
        ec2.terminate_instances(InstanceIds=[bare])


def test_capacity_thrash_scales_out_then_lets_the_policy_pick_who_leaves(
        sandbox: tuple[str, World], backend: AwsBackend) -> None:
    """Against moto as AWS: out by one, back in once the newcomer runs; the revert (from the journal's data) is
    a no-op after that and restores the group if the second step never came."""
    url, world = sandbox
    ec2, autoscaling = client(url, REGION, "ec2"), client(url, REGION, "autoscaling")
    ec2.create_launch_template(LaunchTemplateName="thrash", LaunchTemplateData={"ImageId": "ami-12345678"})
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [world.vpc]}])["Subnets"][0]["SubnetId"]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="thrash", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                          LaunchTemplate={"LaunchTemplateName": "thrash"}, VPCZoneIdentifier=subnet,
                                          TerminationPolicies=["OldestInstance"])

    def members() -> list[str]:
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["thrash"])["AutoScalingGroups"][0]
        return sorted(i["InstanceId"] for i in group["Instances"])

    def sizes() -> tuple[int, int, int]:
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["thrash"])["AutoScalingGroups"][0]
        return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]

    try:
        (first,) = members()
        fault = CapacityThrash(backend, "thrash", timeout_s=30.0)
        plan = fault.plan()
        assert sizes() == (1, 1, 1) and "OldestInstance" in plan.targets[0].note
        fault.inject()
        assert fault.wait(30.0), fault.error

        assert fault.error is None
        assert [s.what for s in fault.steps] == ["scale-out", "newcomer-healthy", "scale-in", "left"]
        assert fault.newcomer not in (None, first) and fault.left == [first]
        assert members() == [fault.newcomer] and sizes() == (1, 1, 1)
        run_revert(backend, plan.revert.kind, json.loads(json.dumps(dict(plan.revert.params))))
        assert members() == [fault.newcomer] and sizes() == (1, 1, 1)

        stuck = CapacityThrash(backend, "thrash", hold_s=60.0, timeout_s=30.0)  # reverted before its second step
        stuck_plan = stuck.plan()
        stuck.inject()
        assert sizes() == (1, 2, 2)
        run_revert(backend, stuck_plan.revert.kind, dict(stuck_plan.revert.params))
        stuck.stop()
        assert sizes() == (1, 1, 1) and len(members()) == 1
    finally:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="thrash", ForceDelete=True)
        ec2.delete_launch_template(LaunchTemplateName="thrash")


def test_capacity_thrash_refuses_a_group_that_is_not_steady(sandbox: tuple[str, World], backend: AwsBackend) -> None:
    with pytest.raises(FaultError, match="not found"):
        CapacityThrash(backend, "no-such-group").plan()
