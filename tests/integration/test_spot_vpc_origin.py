"""spot-vpc-origin on localcloud: a variant whose record no longer follows the instance fails its scenario,
and the message names the phase that never happened."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gameday.faults import CapacityThrash
from gameday.kits.kit import ScenarioSpec
from gameday.kits.spot_vpc_origin.compare import VariantFault, compare
from gameday.kits.spot_vpc_origin.deploy import STACK, SpotDeployment, delete_variants, deploy_variants, parts_of
from gameday.kits.spot_vpc_origin.judges import thrash_result, thrash_watch, variant_result
from gameday.kits.spot_vpc_origin.scenarios import SCENARIOS, TERMINATE
from gameday.scenario import Verdict
from gameday.session import GameDay

pytestmark = pytest.mark.integration


def spec(name: str, renamed: str) -> ScenarioSpec:
    found = next(s for s in SCENARIOS if s.name == name)
    return replace(found, scenario_id=f"{STACK}/{renamed}", also=())


def test_a_lambda_writing_the_wrong_name_fails_with_the_missing_phase(game_day: GameDay) -> None:
    variants = deploy_variants(game_day.backend, f"{game_day.paths.run_id}-broken", game_day.profile,
                               variants=("lifecycle-hook",))
    try:
        variant = variants[0]
        function = variant.origin.resources["Follower"][1]
        lambdas = game_day.backend.client("lambda")
        settings = {k: str(v) for k, v in lambdas.get_function_configuration(
            FunctionName=function)["Environment"]["Variables"].items()}
        # The hook still completes (the instance goes InService), but the record it writes is another one.
        lambdas.update_function_configuration(FunctionName=function, Environment={"Variables": {
            **settings, "RECORD_NAME": "elsewhere." + settings["RECORD_NAME"]}})

        results = compare(game_day, SpotDeployment(STACK, parts_of(variants), tuple(variants)),
                          spec("terminate-instance", "terminate-instance-broken"), breaks=TERMINATE,
                          judge=variant_result)

        assert [r.verdict for r in results] == [Verdict.FAILED]
        assert "phase 'record follows the instance' never happened" in results[0].message
        assert results[0].details["aaaa_switch_s"] is None
        kinds = {e.kind for e in results[0].timeline.events}
        assert {"localcloud.asg.lifecycle_complete", "localcloud.lambda.result"} <= kinds  # it ran, wrongly
    finally:
        delete_variants(game_day.backend, variants)


def test_a_group_that_lets_the_newest_instance_go_strands_the_name(game_day: GameDay) -> None:
    """Last writer wins, then leaves: with TerminationPolicy=NewestInstance the user-data variant's record ends
    naming the newcomer that was terminated, while the older instance serves alone, unnamed."""
    variants = deploy_variants(game_day.backend, f"{game_day.paths.run_id}-newest", game_day.profile,
                               variants=("user-data",), parameters={"TerminationPolicy": "NewestInstance"})
    # held until the newcomer's user data has written the record (boot + run)
    held = VariantFault("capacity-thrash", lambda backend, v: CapacityThrash(backend, v.group, hold_s=8.0))
    try:
        results = compare(game_day, SpotDeployment(STACK, parts_of(variants), tuple(variants)),
                          spec("two-instances-alive", "two-instances-alive-newest"), breaks=held,
                          judge=thrash_result, fixed_watch=thrash_watch)

        assert [r.verdict for r in results] == [Verdict.FAILED], results[0].message
        assert "phase 'record names the survivor' never happened" in results[0].message
        details = results[0].details
        assert list(details["left"]) == [details["newcomer"]] and details["survivor"] == variants[0].instance_id
        assert list(details["final_names"]) == [details["newcomer"]] and details["stale_s"] > 3.0
    finally:
        delete_variants(game_day.backend, variants)
