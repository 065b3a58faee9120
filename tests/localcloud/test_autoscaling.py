"""Spreading a group's launches over its subnets (moto puts every instance in the first one); a member
on its way out (Terminating:Wait) no longer counts."""

import random
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from localcloud.ec2.autoscaling import AutoScaling
from localcloud.events import EventLog


def member(subnet: str, state: str = "running", lifecycle: str = "InService") -> SimpleNamespace:
    return SimpleNamespace(instance=SimpleNamespace(subnet_id=subnet, _state=SimpleNamespace(name=state)),
                           lifecycle_state=lifecycle)


def test_launches_go_to_the_subnets_with_fewest_live_instances() -> None:
    group = SimpleNamespace(vpc_zone_identifier="subnet-a,subnet-b,subnet-c", launch_config=None,
                            instance_states=[member("subnet-a"), member("subnet-b", "terminated"),
                                             member("subnet-c", lifecycle="Terminating:Wait")])
    launched: list[str] = []

    def launch(count: int, tags: dict[str, Any]) -> None:
        for _ in range(count):
            first = group.vpc_zone_identifier.split(",")[0]
            launched.append(first)
            group.instance_states.append(member(first))

    with ThreadPoolExecutor(max_workers=1) as control:
        scaling = AutoScaling(None, EventLog(), lambda key: 0.0, control, random.Random(1))  # type: ignore[arg-type]
        scaling.launch(group, launch, 4, {"k": "v"})

    assert sorted(launched[:2]) == ["subnet-b", "subnet-c"]
    assert sorted(launched) == ["subnet-a", "subnet-b", "subnet-b", "subnet-c"] or \
        sorted(launched) == ["subnet-a", "subnet-b", "subnet-c", "subnet-c"]
    assert group.vpc_zone_identifier == "subnet-a,subnet-b,subnet-c"  # restored


def test_a_single_subnet_group_is_left_to_moto() -> None:
    group = SimpleNamespace(vpc_zone_identifier="subnet-a", launch_config=None, instance_states=[])
    calls: list[int] = []

    with ThreadPoolExecutor(max_workers=1) as control:
        AutoScaling(None, EventLog(), lambda key: 0.0, control, random.Random(1)).launch(  # type: ignore[arg-type]
            group, lambda count, tags: calls.append(count), 3, {})

    assert calls == [3]
