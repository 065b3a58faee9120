"""spot-vpc-origin on localcloud: a variant whose record no longer follows the instance fails its scenario,
and the message names the phase that never happened."""

from __future__ import annotations

import pytest

from fixtures.scenarios import Failover
from gameday.faults import CapacityThrash, TerminateInstance
from gameday.run import RunPaths
from gameday.spot_run import delete_variants, deploy_variants
from scenarios.test_spot_vpc_origin import _compare, _thrash_result, _thrash_watch

pytestmark = pytest.mark.integration


def test_a_lambda_writing_the_wrong_name_fails_with_the_missing_phase(failover: Failover,
                                                                    run_paths: RunPaths) -> None:
    stacks = deploy_variants(failover.backend, f"{run_paths.run_id}-broken", failover.profile,
                             variants=("lifecycle-hook",))
    try:
        stack = stacks[0]
        function = stack.origin.resources["Follower"][1]
        lambdas = failover.backend.client("lambda")
        settings = {k: str(v) for k, v in lambdas.get_function_configuration(
            FunctionName=function)["Environment"]["Variables"].items()}
        # The hook still completes (the instance goes InService), but the record it writes is another one.
        lambdas.update_function_configuration(FunctionName=function, Environment={"Variables": {
            **settings, "RECORD_NAME": "elsewhere." + settings["RECORD_NAME"]}})

        results = _compare(failover, stacks, "terminate-instance", "terminate-instance-broken",
                           lambda s: TerminateInstance(failover.backend, s.group))

        assert [r.verdict for r in results] == ["failed"]
        assert "phase 'record follows the instance' never happened" in results[0].message
        assert results[0].details["aaaa_switch_s"] is None
        kinds = {e.kind for e in results[0].timeline.events}
        assert {"localcloud.asg.lifecycle_complete", "localcloud.lambda.result"} <= kinds  # it ran, wrongly
    finally:
        delete_variants(failover.backend, stacks)


def test_a_group_that_lets_the_newest_instance_go_strands_the_name(failover: Failover, run_paths: RunPaths) -> None:
    """Last writer wins, then leaves: with TerminationPolicy=NewestInstance the user-data variant's record ends
    naming the newcomer that was terminated, while the older instance serves alone, unnamed."""
    stacks = deploy_variants(failover.backend, f"{run_paths.run_id}-newest", failover.profile,
                             variants=("user-data",), parameters={"TerminationPolicy": "NewestInstance"})
    try:
        results = _compare(failover, stacks, "capacity-thrash", "two-instances-alive-newest",
                           # held until the newcomer's user data has written the record (boot + run)
                           lambda s: CapacityThrash(failover.backend, s.group, hold_s=8.0), judge=_thrash_result,
                           fixed_watch_s=_thrash_watch(failover, stacks))

        assert [r.verdict for r in results] == ["failed"], results[0].message
        assert "phase 'record names the survivor' never happened" in results[0].message
        details = results[0].details
        assert list(details["left"]) == [details["newcomer"]] and details["survivor"] == stacks[0].instance_id
        assert list(details["final_names"]) == [details["newcomer"]] and details["stale_s"] > 3.0
    finally:
        delete_variants(failover.backend, stacks)
