"""Spot without a cloud: which groups are all-Spot, the IMDS notices, the control routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.control import control_handler
from localcloud.ec2 import moto_state
from localcloud.ec2.imds import Credentials, Imds
from localcloud.ec2.spot import SpotCapacity, SpotInterruptions, spot_control
from localcloud.events import EventLog
from localcloud.net.http import Handler, Request, Response
from tests.localcloud.test_imds import fake_instance, get, token


def policy(base: int | str, above: int | str, *types: str) -> SimpleNamespace:
    return SimpleNamespace(instance_type="t3.micro", mixed_instances_policy={
        "LaunchTemplate": {"Overrides": [{"InstanceType": t} for t in types]},
        "InstancesDistribution": {"OnDemandBaseCapacity": base, "OnDemandPercentageAboveBaseCapacity": above}})


def test_only_a_policy_with_no_on_demand_at_all_is_a_spot_group() -> None:
    assert moto_state.spot_override_types(policy(0, 0, "m5.large", "c5.large")) == ["m5.large", "c5.large"]
    assert moto_state.spot_override_types(policy("0", "0")) == ["t3.micro"]  # no overrides: the template's type
    assert moto_state.spot_override_types(policy(1, 0, "m5.large")) is None
    assert moto_state.spot_override_types(policy(0, 50, "m5.large")) is None
    assert moto_state.spot_override_types(SimpleNamespace(mixed_instances_policy=None)) is None


def test_ipv6_is_asked_for_by_count_or_by_explicit_addresses() -> None:
    assert moto_state.asks_for_ipv6([], 1)
    assert moto_state.asks_for_ipv6([{"DeviceIndex": "0", "Ipv6AddressCount": "1"}], None)
    assert moto_state.asks_for_ipv6([{"DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "2600::1"}]}], None)
    assert not moto_state.asks_for_ipv6([{"DeviceIndex": 0, "Ipv6AddressCount": 0}], 0)


def spot_instance(lifecycle: str | None = "spot") -> SimpleNamespace:
    instance = fake_instance()
    instance.lifecycle = lifecycle
    instance._state = SimpleNamespace(name="running")
    instance.get_tags = lambda: [{"key": "aws:autoscaling:groupName", "value": "web"}]
    moto_state.give_ipv6(instance)
    return instance


class FakeFleet:
    def __init__(self, instance: Any, imds: Imds) -> None:
        self._instance, self._imds = instance, imds

    def instance_of(self, instance_id: str) -> Any | None:
        return self._instance if instance_id == self._instance.id else None

    def imds_of(self, instance_id: str) -> Imds | None:
        return self._imds if instance_id == self._instance.id else None


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def routes(loop: asyncio.AbstractEventLoop, instance: Any, imds: Imds, events: EventLog,
           control: ThreadPoolExecutor) -> tuple[Handler, SpotInterruptions]:
    interruptions = SpotInterruptions(loop, FakeFleet(instance, imds), events, lambda key: 120.0,  # type: ignore[arg-type]
                                      control, now=lambda: 1_767_225_600.0)  # 2026-01-01T00:00:00Z
    handler = control_handler(events, dict, lambda iid: None, {"/spot/": spot_control(SpotCapacity(), interruptions)})
    return handler, interruptions


def call(handler: Handler, method: str, path: str, **query: str) -> Response:
    return handler(Request(method, path, query, {}))


def test_an_interruption_shows_in_imds_at_once_with_the_profile_lead(loop: asyncio.AbstractEventLoop) -> None:
    instance, events = spot_instance(), EventLog()
    imds = Imds(instance, region="us-east-1", credentials=Credentials.issue(0.0), user_data=None)
    tok = token(imds)
    before = get(imds, "/latest/meta-data/spot/instance-action", tok).status
    with ThreadPoolExecutor(max_workers=1) as control:
        handler, interruptions = routes(loop, instance, imds, events, control)
        answer = call(handler, "POST", "/spot/i-1/interrupt")
        again = call(handler, "POST", "/spot/i-1/interrupt")
        interruptions.close()

    assert before == 404
    assert json.loads(answer.body) == {"instance_id": "i-1", "notice_time": "2026-01-01T00:00:00Z",
                                       "termination_time": "2026-01-01T00:02:00Z", "lead_seconds": 120.0}
    assert json.loads(get(imds, "/latest/meta-data/spot/instance-action", tok).body) == \
        {"action": "terminate", "time": "2026-01-01T00:02:00Z"}
    assert get(imds, "/latest/meta-data/spot/termination-time", tok).body == b"2026-01-01T00:02:00Z"
    assert json.loads(get(imds, "/latest/meta-data/events/recommendations/rebalance", tok).body) == \
        {"noticeTime": "2026-01-01T00:00:00Z"}
    assert [e.kind for e in events.find("localcloud.spot.interruption_notice")] == \
        ["localcloud.spot.interruption_notice"]
    assert again.status == 409


def test_imds_serves_the_mapped_ipv6_address() -> None:
    instance = spot_instance()
    imds = Imds(instance, region="us-east-1", credentials=Credentials.issue(0.0), user_data=None)
    tok = token(imds)

    assert get(imds, "/latest/meta-data/ipv6", tok).body == b"::ffff:127.9.1.1"
    assert get(imds, "/latest/meta-data/network/interfaces/macs/02:00:00:aa:bb:cc/ipv6s", tok).body == \
        b"::ffff:127.9.1.1"


def test_control_refuses_what_it_cannot_do(loop: asyncio.AbstractEventLoop) -> None:
    instance = spot_instance(lifecycle=None)
    imds = Imds(instance, region="us-east-1", credentials=Credentials.issue(0.0), user_data=None)
    with ThreadPoolExecutor(max_workers=1) as control:
        handler, _ = routes(loop, instance, imds, EventLog(), control)
        answers = [call(handler, "POST", "/spot/i-1/interrupt"),
                   call(handler, "POST", "/spot/i-2/interrupt"),
                   call(handler, "POST", "/spot/i-1/interrupt", lead_seconds="-1"),
                   call(handler, "POST", "/spot/capacity/us-east-1a/large/unavailable"),
                   call(handler, "POST", "/spot/nothing"),
                   call(handler, "PUT", "/spot/capacity")]

    assert [a.status for a in answers] == [400, 404, 400, 400, 404, 405]
    assert answers[0].body == b"i-1 is not a Spot instance\n"
    assert answers[2].body == b"lead_seconds must be between 0 and 3600\n"
    assert call(handler, "GET", "/events").status == 200  # the other routes are untouched
