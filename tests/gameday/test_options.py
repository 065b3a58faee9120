"""The game day's options, declared once: both faces get the same options, and the parent's parsed values
go to the pytest children through the same declarations."""

from __future__ import annotations

import argparse

import pytest

from gameday.errors import ConfigError
from gameday.options import (
    OPTIONS,
    add_to_parser,
    forward,
    judged_profile,
    parse_existing,
    parse_params,
    parse_resolvers,
)


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_to_parser(parser)
    return parser.parse_args(argv)


def test_forward_passes_every_changed_option_and_nothing_at_its_default() -> None:
    args = parsed("--backend", "aws", "--endpoint-url", "http://127.0.0.1:5000", "--region", "eu-west-1",
                  "--allow-account", "123456789012", "--existing-stack", "eip-self-healing.main=web",
                  "--resolver", "authoritative=127.0.0.1:5300", "--aws-profile", "ops", "--param", "x.Y=1")

    argv = forward(vars(args))

    assert argv == ["--backend", "aws", "--param", "x.Y=1", "--region", "eu-west-1", "--endpoint-url",
                    "http://127.0.0.1:5000", "--aws-profile", "ops", "--allow-account", "123456789012",
                    "--existing-stack", "eip-self-healing.main=web", "--resolver", "authoritative=127.0.0.1:5300"]
    assert forward(vars(parsed())) == []


def test_every_forwarded_option_round_trips_through_the_childs_parser() -> None:
    """What the parent forwards, the child's declarations (the same OPTIONS) parse back to the same values."""
    args = parsed("--backend", "aws", "--profile", "realistic", "--seed", "7", "--repeat", "3", "--load", "steady",
                  "--load-rate", "12.5", "--stacks-dir", "/x", "--existing-stack", "a=b", "--resolver", "c=d:53")

    again = parsed(*forward(vars(args)))

    for option in OPTIONS:
        assert getattr(again, option.dest) == getattr(args, option.dest), option.flag


@pytest.mark.parametrize(("values", "message"), [
    (["eip-self-healing.NoKey"], "expected STACK.KEY=VALUE"),
    (["eip-self-healing.=1"], "expected STACK.KEY=VALUE"),
    (["nope.Key=1"], "unknown stack 'nope'"),
])
def test_bad_params_are_usage_errors(values: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_params(values, ["eip-self-healing"])


def test_existing_stacks_name_their_stack_and_part() -> None:
    assert parse_existing(["web"], ["eip-self-healing"]) == {"eip-self-healing": {"main": "web"}}
    arn = "arn:aws:cloudformation:us-west-2:123456789012:stack/og-replica/abc"
    assert parse_existing(["origin-group.main=og", f"origin-group.replica={arn}"], ["origin-group", "x"]) == {
        "origin-group": {"main": "og", "replica": arn}}
    assert parse_existing(["spot-vpc-origin.user-data.origin=o"], ["spot-vpc-origin"]) == {
        "spot-vpc-origin": {"user-data.origin": "o"}}


@pytest.mark.parametrize(("values", "stacks", "message"), [
    (["web"], ["a", "b"], "name the stack it belongs to"),
    (["c.main=web"], ["a", "b"], "stack 'c' is not one this run plays"),
    (["a=x", "a.main=y"], ["a"], "a.main named twice"),
    (["a="], ["a"], "expected NAME"),
])
def test_bad_existing_stacks_are_usage_errors(values: list[str], stacks: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_existing(values, stacks)


def test_resolvers_take_a_host_and_an_optional_port() -> None:
    assert parse_resolvers(["authoritative=127.0.0.1:5300", "caching=10.0.0.2", "v6=[::1]:53"]) == [
        ("authoritative", "127.0.0.1", 5300), ("caching", "10.0.0.2", 53), ("v6", "::1", 53)]
    for bad in ("nohost", "Name=1.2.3.4", "x=1.2.3.4:0", "x=1.2.3.4:99999"):
        with pytest.raises(ConfigError, match="--resolver"):
            parse_resolvers([bad])


def test_aws_is_judged_against_realistic_unless_told_otherwise() -> None:
    assert judged_profile("aws", None) == "realistic"
    assert judged_profile("local", None) == "fast"
    assert judged_profile("aws", "fast") == "fast"
    with pytest.raises(ConfigError, match="unknown time profile"):
        judged_profile("local", "nope")
