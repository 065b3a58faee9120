"""AWS's policy evaluation: Deny wins, Allow must match, wildcards, NotAction/NotResource, conditions."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.iam.policy import Effect, condition_holds, evaluate, statements

EIP = "arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-1"
INSTANCE = "arn:aws:ec2:us-east-1:123456789012:instance/i-1"


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def effect(policy: list[dict[str, Any]], action: str = "ec2:AssociateAddress", resource: str = EIP,
           context: dict[str, Any] | None = None) -> Effect:
    return evaluate(policy, action, resource, context or {}).effect


def test_nothing_allowed_is_an_implicit_deny_in_aws_words() -> None:
    decision = evaluate([allow("ec2:DescribeTags")], "ec2:AssociateAddress", EIP, {})

    assert decision.effect is Effect.IMPLICIT_DENY
    assert decision.reason == "because no identity-based policy allows the ec2:AssociateAddress action"


def test_an_explicit_deny_wins_over_any_allow_in_any_order() -> None:
    for policy in ([allow("ec2:*"), deny("ec2:AssociateAddress")], [deny("ec2:Associate*"), allow("*")]):
        decision = evaluate(policy, "ec2:AssociateAddress", EIP, {})
        assert decision.effect is Effect.EXPLICIT_DENY
        assert decision.reason == "with an explicit deny in an identity-based policy"


@pytest.mark.parametrize(("pattern", "matches"), [
    ("ec2:AssociateAddress", True), ("EC2:associateaddress", True), ("ec2:Associate*", True),
    ("ec2:*Address", True), ("ec2:AssociateAddres?", True), ("*", True), ("ec2:Associate", False),
    ("ec2:DisassociateAddress", False), ("ec2:Associate?", False), ("route53:*", False),
    ("ec2:Associate.ddress", False),  # a dot is a dot, not a regex
])
def test_actions_match_case_insensitively_with_wildcards(pattern: str, matches: bool) -> None:
    assert (effect([allow(pattern)]) is Effect.ALLOW) == matches


@pytest.mark.parametrize(("pattern", "matches"), [
    (EIP, True), ("arn:aws:ec2:us-east-1:123456789012:elastic-ip/*", True), ("arn:aws:ec2:*:*:elastic-ip/*", True),
    ("arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-?", True), ("*", True),
    ("arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-2", False),
    ("arn:aws:ec2:us-east-1:123456789012:ELASTIC-IP/eipalloc-1", False),  # ARNs are case-sensitive
    ("arn:aws:ec2:us-east-1:123456789012:instance/*", False),
])
def test_resources_match_case_sensitively_with_wildcards(pattern: str, matches: bool) -> None:
    assert (effect([allow("ec2:AssociateAddress", pattern)]) is Effect.ALLOW) == matches


def test_a_list_of_resources_allows_any_of_them() -> None:
    policy = [allow("ec2:AssociateAddress", [INSTANCE, EIP])]

    assert effect(policy, resource=EIP) is Effect.ALLOW
    assert effect(policy, resource=INSTANCE) is Effect.ALLOW
    assert effect(policy, resource=INSTANCE.replace("i-1", "i-2")) is Effect.IMPLICIT_DENY


def test_not_action_allows_everything_else_and_not_resource_every_other_resource() -> None:
    everything_but = [{"Effect": "Allow", "NotAction": ["ec2:Associate*"], "Resource": "*"}]
    elsewhere = [{"Effect": "Allow", "Action": "ec2:*", "NotResource": EIP}]

    assert effect(everything_but, "ec2:DescribeTags") is Effect.ALLOW
    assert effect(everything_but) is Effect.IMPLICIT_DENY
    assert effect(elsewhere, resource=INSTANCE) is Effect.ALLOW
    assert effect(elsewhere, resource=EIP) is Effect.IMPLICIT_DENY


def test_a_deny_with_not_action_denies_all_but_the_listed_actions() -> None:
    policy = [allow("*"), {"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}]

    assert effect(policy, "ec2:DescribeAddresses") is Effect.ALLOW
    assert effect(policy) is Effect.EXPLICIT_DENY


def test_a_condition_that_fails_only_withholds_the_allow_it_belongs_to() -> None:
    tagged = {"StringEquals": {"aws:ResourceTag/gameday:stack": "web"}}
    policy = [allow("ec2:AssociateAddress", INSTANCE, Condition=tagged)]

    assert effect(policy, resource=INSTANCE, context={"aws:ResourceTag/gameday:stack": "web"}) is Effect.ALLOW
    assert effect(policy, resource=INSTANCE, context={"aws:ResourceTag/gameday:stack": "other"}) \
        is Effect.IMPLICIT_DENY
    assert effect(policy, resource=INSTANCE, context={}) is Effect.IMPLICIT_DENY  # the tag is missing


def test_a_deny_with_a_condition_denies_only_where_it_holds() -> None:
    policy = [allow("*"), deny("ec2:*", Condition={"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}})]

    assert effect(policy, context={"aws:RequestedRegion": "us-east-1"}) is Effect.ALLOW
    assert effect(policy, context={"aws:RequestedRegion": "eu-west-1"}) is Effect.EXPLICIT_DENY


@pytest.mark.parametrize(("operator", "expected", "actual", "holds"), [
    ("StringEquals", ["a", "b"], "b", True),
    ("StringEquals", "a", "A", False),
    ("StringEqualsIgnoreCase", "a", "A", True),
    ("StringNotEquals", ["a", "b"], "c", True),
    ("StringNotEquals", ["a", "b"], "a", False),
    ("StringLike", "web-*", "web-blue", True),
    ("StringLike", "web-?", "web-10", False),
    ("StringNotLike", "web-*", "db-1", True),
    ("ArnLike", "arn:aws:iam::*:role/app-*", "arn:aws:iam::123456789012:role/app-x", True),
    ("ArnEquals", "arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/other", False),
    ("ArnNotLike", "arn:aws:iam::*:role/app-*", "arn:aws:iam::123456789012:role/db", True),
    ("Bool", "true", "True", True),
    ("Bool", "false", "true", False),
])
def test_condition_operators(operator: str, expected: Any, actual: str, holds: bool) -> None:
    values = expected if isinstance(expected, list) else [expected]

    assert condition_holds(operator, "k", values, {"k": actual}) is holds


@pytest.mark.parametrize(("operator", "holds"), [
    ("StringEquals", False), ("StringLike", False), ("ArnLike", False), ("Bool", False),
    ("StringNotEquals", True), ("StringNotLike", True), ("ArnNotLike", True),
    ("StringEqualsIfExists", True), ("ArnLikeIfExists", True), ("BoolIfExists", True),
])
def test_a_missing_key_fails_positive_operators_and_satisfies_negated_and_if_exists_ones(
        operator: str, holds: bool) -> None:
    assert condition_holds(operator, "aws:ResourceTag/team", ["x"], {}) is holds


def test_if_exists_compares_when_the_key_is_there() -> None:
    assert condition_holds("StringEqualsIfExists", "k", ["x"], {"k": "x"}) is True
    assert condition_holds("StringEqualsIfExists", "k", ["x"], {"k": "y"}) is False


def test_null_asks_whether_the_key_is_absent() -> None:
    assert condition_holds("Null", "aws:ResourceTag/team", ["true"], {}) is True
    assert condition_holds("Null", "aws:ResourceTag/team", ["true"], {"aws:ResourceTag/team": "a"}) is False
    assert condition_holds("Null", "aws:ResourceTag/team", ["false"], {"aws:ResourceTag/team": "a"}) is True


def test_condition_key_names_are_case_insensitive() -> None:
    assert condition_holds("StringEquals", "AWS:resourcetag/Team", ["a"], {"aws:ResourceTag/team": "a"}) is True


def test_every_key_and_every_operator_must_hold() -> None:
    condition = {"StringEquals": {"aws:RequestedRegion": "us-east-1", "aws:ResourceTag/team": "web"},
                 "Null": {"aws:ResourceTag/owner": "true"}}
    policy = [allow("*", Condition=condition)]
    good = {"aws:RequestedRegion": "us-east-1", "aws:ResourceTag/team": "web"}

    assert effect(policy, context=good) is Effect.ALLOW
    assert effect(policy, context={**good, "aws:ResourceTag/team": "db"}) is Effect.IMPLICIT_DENY
    assert effect(policy, context={**good, "aws:ResourceTag/owner": "me"}) is Effect.IMPLICIT_DENY


def test_an_operator_localcloud_does_not_evaluate_denies_and_says_which() -> None:
    decision = evaluate([allow("*", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})],
                        "ec2:AssociateAddress", EIP, {})

    assert decision.effect is Effect.IMPLICIT_DENY
    assert "NumericLessThan" in decision.reason


def test_statements_come_from_json_documents_with_one_statement_or_a_list() -> None:
    found = statements(['{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "a:b", '
                        '"Resource": "*"}}', {"Statement": [allow("c:d"), deny("e:f")]}])

    assert [s["Action"] for s in found] == ["a:b", "c:d", "e:f"]
