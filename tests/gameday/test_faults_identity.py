"""The identity a revert records at inject: the same resource passes, a recreated one or none is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gameday.faults import identity
from gameday.faults.identity import IdentityRefused

ARN = "arn:aws:ecs:eu-west-1:123456789012:service/c/web"
BORN = datetime(2026, 12, 5, 7, 0, 0, 123456, tzinfo=UTC)


def test_the_resource_the_fault_touched_passes() -> None:
    params = {identity.KEY: identity.of(ARN, BORN)}

    identity.check(params, "ECS service web", ARN, BORN)


@pytest.mark.parametrize(("recorded", "why"), [
    ({identity.KEY: identity.of(ARN, BORN)}, "it was recreated"),
    ({}, "records no identity"),
    ({identity.KEY: "forged"}, "records no identity"),
])
def test_a_recreated_resource_or_no_identity_is_refused_in_one_line(recorded: dict[str, object], why: str) -> None:
    later = datetime(2026, 12, 5, 7, 0, 1, tzinfo=UTC)

    with pytest.raises(IdentityRefused) as refused:
        identity.check(recorded, "ECS service web", ARN, later)

    message = str(refused.value)
    assert message.startswith("refused:") and "ECS service web" in message and why in message
    assert "\n" not in message and "nothing changed" in message


def test_creation_times_compare_as_text_whatever_the_api_gave() -> None:
    assert identity.of(ARN, BORN) == identity.of(ARN, BORN.isoformat())
    assert identity.of(ARN, None) == {"arn": ARN, "created": ""}
