"""Control-plane labels: every predicted phase says its plane, and the reports flag a failover path that waits
on a control-plane API."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gameday.kits import load_kits
from gameday.model import CONTROL, DATA, PredictedPhase, Prediction, fixed, phase
from gameday.reports import RunReport, write_outputs
from gameday.reports.markdown import with_planes
from localcloud import profiles
from tests.gameday.scenario_data import scenario as synthetic

FAST = profiles.load("fast")


def test_a_phase_timed_by_a_control_plane_key_names_its_api() -> None:
    association = phase(FAST, "association", "eip.associate_to_traffic")

    assert (association.plane, association.api) == (CONTROL, "ec2:AssociateAddress")
    assert association.label == "control: ec2:AssociateAddress"


def test_a_health_check_and_a_ttl_run_on_the_data_plane() -> None:
    status = phase(FAST, "status_to_dns", "route53.status_to_dns")
    ttl = fixed("resolver_cache", 5.0, "template BackendRecord TTL")

    assert (status.plane, status.api, ttl.plane) == (DATA, "", DATA)


def test_a_predictor_may_name_the_plane_itself() -> None:
    scheduler = phase(FAST, "scheduler", "ecs.scheduler_reaction", plane=DATA)

    assert scheduler.plane == DATA and scheduler.api == ""


def test_a_plane_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="plane must be"):
        PredictedPhase("x", 1.0, 1.0, 1.0, "k", plane="mgmt")


def test_the_prediction_lists_each_control_plane_api_once_in_order() -> None:
    prediction = Prediction("s", "f", "fast", (
        phase(FAST, "launch", "ec2.run_instances_api"), phase(FAST, "pending", "ec2.pending_to_running"),
        phase(FAST, "boot", "ec2.boot"), phase(FAST, "association", "eip.associate_to_traffic")))

    assert prediction.control_plane_apis == ("autoscaling launch (ec2:RunInstances)", "ec2:AssociateAddress")
    assert prediction.control_plane_flag == ("failover depends on the control plane: autoscaling launch "
                                             "(ec2:RunInstances), ec2:AssociateAddress")
    data = prediction.to_dict()
    assert data["control_plane"] == list(prediction.control_plane_apis)
    assert [p["plane"] for p in data["phases"]] == [CONTROL, CONTROL, DATA, CONTROL]


def test_a_data_plane_prediction_has_no_flag() -> None:
    prediction = Prediction("s", "f", "fast", (phase(FAST, "status_to_dns", "route53.status_to_dns"),))

    assert prediction.control_plane_apis == () and prediction.control_plane_flag == ""


@pytest.mark.parametrize(("scenario_id", "depends"), [
    ("eip-self-healing/terminate-instance", "ec2:AssociateAddress"),
    ("static-ip-haproxy/blue-green-switch", "route53:ChangeResourceRecordSets"),
    ("spot-vpc-origin/terminate-instance", "route53:ChangeResourceRecordSets"),
    ("static-ip-haproxy/terminate-proxy", None),
    ("origin-group/region-unreachable", None),
    ("dns-failover-fargate/scale-to-zero-and-back", None),  # ECS stopping tasks is the fault, not the failover
])
def test_reference_kits_label_their_failover_paths(scenario_id: str, depends: str | None) -> None:
    spec = next(s for s in load_kits(None).scenarios(extended=True) if s.scenario_id == scenario_id)
    assert spec.predict is not None

    apis = spec.predict(FAST, None).control_plane_apis

    assert (depends in apis) if depends else apis == ()


def test_cloud_map_registration_names_its_own_api() -> None:
    from gameday.kits.spot_vpc_origin import model
    from gameday.stacks import DeployedStack, StackSpec

    stack = DeployedStack(StackSpec(model.STACK, {"Variant": "cloud-map"}), "n", "arn", {}, {})
    stack = replace(stack, parameters={"Variant": "cloud-map"})

    assert "servicediscovery:RegisterInstance" in model.terminate_instance(FAST, stack).control_plane_apis


def test_report_json_summary_and_html_say_the_planes_and_flag_the_control_plane(tmp_path: Path) -> None:
    run = RunReport("run-1", "localcloud", "fast", started_at=1_000.0, ended_at=1_100.0)
    run.scenarios.append(synthetic())  # eip-like: launch, then the address association

    folder = write_outputs(run.to_dict(), tmp_path, history=False)

    [s] = json.loads((folder / "report.json").read_text())["scenarios"]
    flag = "failover depends on the control plane: autoscaling health check, autoscaling launch (ec2:RunInstances), " \
           "ec2:AssociateAddress"
    assert s["prediction"]["control_plane_flag"] == flag
    summary = (folder / "summary.md").read_text()
    assert flag in summary and "association [control: ec2:AssociateAddress]" in summary
    assert "boot [data]" in summary
    html = (folder / "report.html").read_text()
    assert flag in html and "association [control: ec2:AssociateAddress]" in html


def test_a_data_plane_path_is_said_to_be_one(tmp_path: Path) -> None:
    run = RunReport("run-2", "localcloud", "fast", started_at=1_000.0, ended_at=1_100.0)
    data_only = Prediction("eip-self-healing", "terminate-instance", "fast",
                           (phase(FAST, "status_to_dns", "route53.status_to_dns", ends_at="stable"),))
    run.scenarios.append(replace(synthetic(), prediction=data_only))

    folder = write_outputs(run.to_dict(), tmp_path, history=False)

    assert "Failover path: data plane only." in (folder / "summary.md").read_text()
    assert "depends on the control plane" not in (folder / "report.html").read_text()


def test_an_older_report_without_labels_renders_the_names_alone() -> None:
    assert with_planes({"prediction": {"phases": [{"name": "boot"}]}}, ["boot"]) == "boot"
