"""localcloud's FIS actions without a cloud: ISO 8601 durations, the notice's scaling, the capacity window."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from localcloud.ec2.spot import Pool, SpotCapacity
from localcloud.fis.actions import ActionFailed, Physics, insufficient_capacity, iso_seconds, send_spot_interruptions


@pytest.mark.parametrize(("text", "seconds"), [("PT2M", 120), ("PT15M", 900), ("PT1H30S", 3630), ("PT0.5S", 0.5),
                                               ("P1D", 86400)])
def test_iso_durations_are_read_as_seconds(text: str, seconds: float) -> None:
    assert iso_seconds(text, "duration") == seconds


@pytest.mark.parametrize("text", ["", "PT", "P", "2M", "PT2X", "soon"])
def test_what_is_not_a_duration_is_refused_with_its_name(text: str) -> None:
    with pytest.raises(ActionFailed, match="duration .* is not an ISO 8601 duration"):
        iso_seconds(text, "duration")


def physics(asked: list[tuple[str, float | None]], capacity: SpotCapacity | None = None) -> Physics:
    def interrupt(instance_id: str, lead: float | None) -> float:
        asked.append((instance_id, lead))
        return 10.0 if lead is None else lead
    return Physics(interrupt, capacity or SpotCapacity(), notice_scale=10 / 120)


def test_pt2m_asks_for_the_profiles_own_notice_and_longer_ones_are_scaled_like_it() -> None:
    asked: list[tuple[str, float | None]] = []
    instances = [SimpleNamespace(id="i-1")]

    two = send_spot_interruptions({"durationBeforeInterruption": "PT2M"}, instances, physics(asked))
    six = send_spot_interruptions({"durationBeforeInterruption": "PT6M"}, instances, physics(asked))

    assert asked == [("i-1", None), ("i-1", pytest.approx(30.0))]
    assert (two.lasts_s, six.lasts_s) == (10.0, pytest.approx(30.0))


def test_a_capacity_error_takes_the_groups_spot_pools_in_the_zone_and_gives_back_only_those() -> None:
    capacity = SpotCapacity()
    already_out = Pool("c5.large", "us-east-1a")
    capacity.set_available(already_out, False)  # the control API's, before the experiment
    zones = [SimpleNamespace(zone_id="use1-az1", name="us-east-1a"), SimpleNamespace(zone_id="use1-az2",
                                                                                     name="us-east-1b")]
    group = SimpleNamespace(name="g", vpc_zone_identifier="", availability_zones=["us-east-1a", "us-east-1b"],
                            ec2_backend=SimpleNamespace(describe_availability_zones=lambda: zones),
                            instance_type="t3.micro",
                            mixed_instances_policy={
                                "InstancesDistribution": {"OnDemandBaseCapacity": 0,
                                                          "OnDemandPercentageAboveBaseCapacity": 0},
                                "LaunchTemplate": {"Overrides": [{"InstanceType": "m5.large"},
                                                                 {"InstanceType": "c5.large"}]}})

    started = insufficient_capacity({"availabilityZoneIdentifiers": "use1-az1", "duration": "PT5M"}, [group],
                                    physics([], capacity))
    during = capacity.exhausted()
    started.end()

    assert started.lasts_s == 300
    assert during == [already_out, Pool("m5.large", "us-east-1a")]
    assert capacity.exhausted() == [already_out]
