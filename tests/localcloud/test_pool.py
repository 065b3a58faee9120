import ipaddress

import pytest

from localcloud.errors import LocalCloudError
from localcloud.net.pool import AddressPool


def test_two_pools_on_one_machine_never_share_a_block() -> None:
    first, second = AddressPool(), AddressPool()
    try:
        assert first.claim() != second.claim()
        assert first.network != second.network
        assert not first.network.overlaps(ipaddress.IPv4Network("127.0.0.0/16"))
    finally:
        first.close()
        second.close()


def test_a_claimed_block_is_refused_until_released() -> None:
    owner = AddressPool()
    block = owner.claim()
    try:
        with pytest.raises(LocalCloudError, match="claimed"):
            AddressPool(block=block).claim()
    finally:
        owner.close()
    again = AddressPool(block=block)
    try:
        assert again.claim() == block
    finally:
        again.close()


def test_addresses_are_handed_out_in_order_skipping_network_and_broadcast_octets() -> None:
    pool = AddressPool()
    block = pool.claim()
    try:
        addresses = [pool.allocate("instance") for _ in range(256)]
        service = pool.allocate_service("dns")
        inside = all(a in pool for a in addresses)
    finally:
        pool.close()

    assert addresses[0] == f"127.{block}.1.1"
    assert addresses[253] == f"127.{block}.1.254" and addresses[254] == f"127.{block}.2.1"
    assert len(set(addresses)) == 256 and inside
    assert not any(a.endswith((".0", ".255")) for a in addresses)
    assert service == f"127.{block}.0.2"


def test_membership_is_by_block() -> None:
    pool = AddressPool()
    block = pool.claim()
    try:
        assert f"127.{block}.7.9" in pool
        assert "127.0.0.1" not in pool and "10.0.0.1" not in pool and "nonsense" not in pool
    finally:
        pool.close()
