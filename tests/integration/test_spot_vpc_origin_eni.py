"""spot-vpc-origin's eni variant on localcloud: the record names one interface's fixed address and never moves;
a replacement instance serves once it has attached the interface. An instance role that may no longer attach it
fails the scenario, naming the phase that never happened."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gameday.kits.kit import ScenarioSpec
from gameday.kits.spot_vpc_origin.compare import compare
from gameday.kits.spot_vpc_origin.deploy import (
    ENI,
    STACK,
    SpotDeployment,
    delete_variants,
    deploy_variants,
    holder_of,
    parts_of,
)
from gameday.kits.spot_vpc_origin.judges import variant_result
from gameday.kits.spot_vpc_origin.scenarios import SCENARIOS, TERMINATE
from gameday.scenario import Verdict
from gameday.session import GameDay

pytestmark = pytest.mark.integration


def spec(name: str, renamed: str) -> ScenarioSpec:
    found = next(s for s in SCENARIOS if s.name == name)
    return replace(found, scenario_id=f"{STACK}/{renamed}", also=())


def test_the_fixed_address_moves_to_the_replacement_and_the_record_never_changes(game_day: GameDay) -> None:
    variants = deploy_variants(game_day.backend, f"{game_day.paths.run_id}-eni", game_day.profile, variants=(ENI,))
    try:
        variant = variants[0]
        assert variant.ipv6 == variant.origin.output("OriginAddress")
        assert holder_of(game_day.backend, str(variant.interface_id)) == variant.instance_id

        results = compare(game_day, SpotDeployment(STACK, parts_of(variants), tuple(variants)),
                          spec("terminate-instance", "terminate-instance-eni"), breaks=TERMINATE, judge=variant_result)

        assert [r.verdict for r in results] == [Verdict.PASSED], results[0].message
        details = results[0].details
        assert details["aaaa_switch_s"] is None and details["record_moved"] is False
        assert details["edge_switch_s"] is None  # CloudFront's cached answer stayed right
        # A request sent while the address still black-holed is answered once it routes: served_again (when it
        # was sent) may come up to one connection attempt before the route.
        assert details["interface_moved_s"] > 0 and details["interface_moved_s"] - details["served_again_s"] < 3.0
        replacement = holder_of(game_day.backend, str(variant.interface_id))
        assert replacement not in (None, variant.instance_id) and details["instances"][-1] == replacement
        failover = results[0].failover
        routed = failover.phase("routed") if failover is not None else None
        assert routed is not None and routed.source == "event:localcloud.eni.routed"
    finally:
        delete_variants(game_day.backend, variants)


def test_a_role_that_may_not_attach_the_interface_fails_with_the_missing_phase(game_day: GameDay) -> None:
    variants = deploy_variants(game_day.backend, f"{game_day.paths.run_id}-eni-denied", game_day.profile,
                               variants=(ENI,))
    try:
        variant = variants[0]
        iam = game_day.backend.client("iam")
        role = variant.origin.resources["InstanceRole"][1]
        # The replacement can still look at the interface, but no longer take it over.
        iam.put_role_policy(RoleName=role, PolicyName="follow-the-instance", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeNetworkInterfaces", "Resource": "*"}]}))

        results = compare(game_day, SpotDeployment(STACK, parts_of(variants), tuple(variants)),
                          spec("terminate-instance", "terminate-instance-eni-denied"), breaks=TERMINATE,
                          judge=variant_result)

        assert [r.verdict for r in results] == [Verdict.FAILED]
        assert "phase 'interface follows the instance' never happened" in results[0].message
        assert results[0].details["interface_moved_s"] is None and results[0].details["served_again_s"] is None
        denied = [e for e in results[0].timeline.events if e.kind == "localcloud.iam.denied"]
        assert any("AttachNetworkInterface" in json.dumps(e.detail) for e in denied)
    finally:
        delete_variants(game_day.backend, variants)
