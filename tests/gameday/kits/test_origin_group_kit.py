"""The origin-group kit's declaration: two parts, the replica named after the run, its scenarios."""

from __future__ import annotations

from gameday.kits.origin_group import KIT
from gameday.kits.origin_group.deploy import replica_bucket_name
from gameday.kits.origin_group.model import region_unreachable
from localcloud import profiles


def test_the_replica_bucket_name_is_a_valid_bucket_name_for_any_run_id() -> None:
    name = replica_bucket_name("20261205-064813-61b4-Origin-Group" + "-x" * 40)

    assert len(name) <= 63 and name == name.lower() and name[-1].isalnum()


def test_the_kit_has_a_main_and_a_replica_part_and_the_three_scenarios() -> None:
    assert [p.name for p in KIT.parts] == ["main", "replica"]
    assert [s.name for s in KIT.scenarios] == ["region-unreachable", "deny-bucket-policy", "objects-missing"]
    assert all(s.budget_key == s.name for s in KIT.scenarios)


def test_without_a_stack_the_prediction_reads_the_reference_template() -> None:
    predicted = region_unreachable(profiles.load("fast"), None)

    assert predicted.mean_s == 6.0  # fast: 3 attempts x 2 s
