"""Fn::Cidr as AWS documents it: `cidrBits` counts host bits, blocks come in address order."""

from __future__ import annotations

import pytest

from localcloud.cfn.cidr import CidrFunctionError, cidr_blocks


def test_the_documented_ipv4_example_gives_six_27s() -> None:
    assert cidr_blocks("192.168.0.0/24", 6, 5) == [
        "192.168.0.0/27", "192.168.0.32/27", "192.168.0.64/27",
        "192.168.0.96/27", "192.168.0.128/27", "192.168.0.160/27"]


def test_an_ipv6_56_splits_into_64s_with_64_host_bits() -> None:
    assert cidr_blocks("2600:1f18:abcd:1200::/56", 3, 64) == [
        "2600:1f18:abcd:1200::/64", "2600:1f18:abcd:1201::/64", "2600:1f18:abcd:1202::/64"]


def test_numbers_may_be_strings_as_parameters_deliver_them() -> None:
    assert cidr_blocks("10.0.0.0/16", "2", "8") == ["10.0.0.0/24", "10.0.1.0/24"]


def test_every_block_of_the_range_can_be_asked_for() -> None:
    blocks = cidr_blocks("10.0.0.0/16", 256, 8)

    assert (len(blocks), blocks[-1]) == (256, "10.0.255.0/24")


@pytest.mark.parametrize(("ip_block", "count", "bits", "says"), [
    ("192.168.0.0/24", 9, 5, "only 8 blocks of /27"),
    ("192.168.0.0/24", 1, 9, "cidrBits 9 does not fit"),
    ("10.0.0.0/8", 257, 8, "count 257 is outside 1..256"),
    ("10.0.0.0/8", 0, 8, "count 0 is outside"),
    ("10.0.0.1/8", 1, 8, "ipBlock '10.0.0.1/8' is not a CIDR block"),
    ("10.0.0.0/8", "two", 8, "count 'two' is not an integer"),
    ("10.0.0.0/8", 1, True, "cidrBits True is not an integer"),
])
def test_arguments_aws_would_refuse_are_refused_naming_the_argument(
        ip_block: str, count: object, bits: object, says: str) -> None:
    with pytest.raises(CidrFunctionError, match=says):
        cidr_blocks(ip_block, count, bits)
