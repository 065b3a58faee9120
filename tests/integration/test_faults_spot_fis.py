"""The Spot faults through AWS FIS: the aws backend pointed at a localcloud standing in for an account, where
StartExperiment really interrupts and really takes capacity away; the journalled revert stops the experiment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.backends.aws import AwsBackend, AwsOptions
from gameday.clock import SystemClock
from gameday.errors import ConfigError
from gameday.faults.base import injected
from gameday.faults.fis import fis_role
from gameday.faults.journal import RollbackJournal
from gameday.faults.spot import SpotCapacityError, SpotInterruption
from gameday.timeline import Timeline
from localcloud import LocalCloud
from localcloud.fis import fis_services
from tests.integration.test_aws_sandbox import ACCOUNT, RUN_TAG, set_aws_env
from tests.integration.test_localcloud_spot import ZONE, describe
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration
REGION = "us-east-1"
RUN_ID = "spot-fis"
NOTICE_S = 1.2  # the tiny profile's spot.itn_lead: AWS's 120 s x 0.01


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    profile = tiny_profile(tmp_path_factory.mktemp("profile"), ec2__ice_retry=0.4)
    with LocalCloud(profile, seed=7, services=fis_services()) as running:
        ec2 = running.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=ZONE)["Subnet"]["SubnetId"]
        ec2.create_launch_template(LaunchTemplateName="spot-fis", LaunchTemplateData={
            "ImageId": "ami-12345678", "InstanceType": "t3.micro"})
        for group in ("itn", "ice"):
            running.client("autoscaling").create_auto_scaling_group(
                AutoScalingGroupName=group, MinSize=1, MaxSize=1, DesiredCapacity=1, VPCZoneIdentifier=subnet,
                Tags=[{"Key": RUN_TAG, "Value": RUN_ID, "PropagateAtLaunch": True}],
                MixedInstancesPolicy={
                    "LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "spot-fis",
                                                                       "Version": "$Latest"},
                                       "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "c5.large"}]},
                    "InstancesDistribution": {"OnDemandBaseCapacity": 0, "OnDemandPercentageAboveBaseCapacity": 0}})
        yield running


@pytest.fixture
def backend(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsBackend]:
    set_aws_env(monkeypatch)
    with AwsBackend(AwsOptions(region=REGION, endpoint_url=cloud.endpoint_url, allow_accounts=frozenset({ACCOUNT}),
                               run_id=RUN_ID)) as aws:
        yield aws


def in_service(cloud: LocalCloud, group: str) -> str:
    fulfilled = cloud.events.wait_for("localcloud.spot.fulfilled", timeout=10, where=lambda e: e.detail["asg"] == group)
    cloud.events.wait_for("localcloud.instance.booted", fulfilled.subject, timeout=10)
    return fulfilled.subject


def experiments(cloud: LocalCloud) -> list[dict[str, Any]]:
    return list(cloud.client("fis").list_experiments()["experiments"])


def test_spot_interruption_runs_as_a_fis_experiment_and_its_revert_stops_it(
        cloud: LocalCloud, backend: AwsBackend, tmp_path: Path) -> None:
    victim = in_service(cloud, "itn")
    fault = SpotInterruption(backend, "itn")
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    clock = SystemClock()

    plan = fault.plan()
    with injected(fault, backend=backend, journal=journal, timeline=Timeline.begin(RUN_ID, clock), clock=clock):
        notice = cloud.events.wait_for("localcloud.spot.interruption_notice", victim, timeout=5)
        terminated = cloud.events.wait_for("localcloud.instance.terminated", victim, timeout=10)
        experiment = fault.notice["experiment_id"]
    (entry,) = journal.entries()

    assert "AWS FIS experiment (aws:ec2:send-spot-instance-interruptions" in plan.action
    assert f"role arn:aws:iam::{ACCOUNT}:role/gameday-fis" in plan.action  # a placeholder on loopback
    assert [t.resource_id for t in plan.targets] == [victim, "itn"]
    assert notice.detail["lead_seconds"] == pytest.approx(NOTICE_S)  # PT2M: the profile's own notice
    assert terminated.at - notice.at >= NOTICE_S - 0.05
    assert describe(cloud, victim)["State"]["Name"] == "terminated"
    assert entry.state == "reverted" and entry.revert_kind == "composite"
    assert {e["id"]: e["state"]["status"] for e in experiments(cloud)}[experiment] in ("completed", "stopped")
    assert cloud.client("fis").list_experiment_templates()["experimentTemplates"] == []  # the revert deleted it


def test_spot_capacity_error_through_fis_fails_the_groups_launches_until_reverted(
        cloud: LocalCloud, backend: AwsBackend, tmp_path: Path) -> None:
    first = in_service(cloud, "ice")
    fault = SpotCapacityError(backend, "ice", "m5.large", ZONE)
    journal = RollbackJournal(tmp_path / "rollback.jsonl")
    clock = SystemClock()

    with injected(fault, backend=backend, journal=journal, timeline=Timeline.begin(RUN_ID, clock), clock=clock):
        during = len(cloud.events)
        cloud.client("ec2").terminate_instances(InstanceIds=[first])
        cloud.events.wait_for("localcloud.ec2.capacity_error", "ice", since=during, timeout=10,
                              where=lambda e: e.detail["attempt"] == 2)
        state_during = cloud.client("fis").get_experiment(id=fault.experiment_id)["experiment"]["state"]["status"]
        launched_during = [e for e in cloud.events.find("localcloud.spot.fulfilled", since=during)
                           if e.detail["asg"] == "ice"]
    after = cloud.client("fis").get_experiment(id=fault.experiment_id)["experiment"]
    replacement = cloud.events.wait_for("localcloud.spot.fulfilled", since=during, timeout=10,
                                        where=lambda e: e.detail["asg"] == "ice")

    assert state_during == "running" and launched_during == []
    assert after["state"]["status"] == "stopped"
    # Capacity is back: the group launches again. Which of its types depends on where its retry order stood
    # when the revert came (the order chosen at the first attempt is kept), so either is right.
    assert replacement.detail["instance_type"] in ("m5.large", "c5.large")
    assert journal.entries()[0].state == "reverted"


def test_on_aws_without_a_role_the_fault_refuses_naming_the_option() -> None:
    class RealAws:
        name, region = "aws", REGION
        options = AwsOptions(region=REGION)

        def client(self, service: str, region: str | None = None) -> Any:
            return boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")

    with pytest.raises(ConfigError) as refused:
        fis_role(RealAws(), "spot-interruption")  # type: ignore[arg-type]

    assert "--fis-role-arn" in str(refused.value) and "\n" not in str(refused.value)
    assert fis_role(type("WithRole", (RealAws,), {"options": AwsOptions(region=REGION, fis_role_arn="arn:r")})(),
                    "x") == "arn:r"  # type: ignore[arg-type]
