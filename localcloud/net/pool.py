"""Loopback addresses for one cloud: a /16 under 127.0.0.0/8, claimed machine-wide so two clouds never share one.

The claim is an abstract Unix socket named after the block: the kernel releases it when the process
ends, however it ends, so there is no lock file to clean up. 127.0.0.0/16 is never used (127.0.0.1
is everyone's). Addresses are handed out in order and never reused within one cloud's life.
"""

from __future__ import annotations

import errno
import ipaddress
import random
import socket
import threading

from localcloud.errors import LocalCloudError

_CLAIM_PREFIX = "localcloud-block-127."
SERVICE_OCTET = 0  # 127.B.0.x: the cloud's own services (DNS, resolver, checks)
FIRST_RESOURCE_OCTET = 1  # 127.B.1.1 onward: instances, Elastic IPs, public IPv4s


class AddressPool:
    """Addresses of 127.B.0.0/16 for one cloud. `claim()` picks B; `close()` gives it back."""

    def __init__(self, *, block: int | None = None, rng: random.Random | None = None) -> None:
        if block is not None and not 1 <= block <= 254:
            raise ValueError(f"block must be in 1..254, got {block}")
        self._wanted = block
        self._rng = rng or random.SystemRandom()
        self._claim: socket.socket | None = None
        self._block: int | None = None
        self._next_service = 2
        self._next_resource = 0
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def block(self) -> int:
        if self._block is None:
            raise LocalCloudError("address pool not claimed")
        return self._block

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"127.{self.block}.0.0/16")

    def claim(self) -> int:
        """Claim a free block (random order, or the one asked for) and return its second octet."""
        if self._block is not None:
            return self._block
        candidates = [self._wanted] if self._wanted else self._rng.sample(range(1, 255), 254)
        for block in candidates:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(f"\0{_CLAIM_PREFIX}{block}")
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EADDRINUSE:
                    raise LocalCloudError(f"cannot claim an address block: {exc}") from exc
                continue
            self._claim, self._block = sock, block
            return block
        raise LocalCloudError("every 127.B.0.0/16 address block is claimed by another localcloud")

    def allocate_service(self, purpose: str) -> str:
        """An address in 127.B.0.0/24 for one of the cloud's own services."""
        with self._lock:
            if self._next_service > 254:
                raise LocalCloudError("out of service addresses")
            address = f"127.{self.block}.{SERVICE_OCTET}.{self._next_service}"
            self._next_service += 1
            self._owners[address] = purpose
            return address

    def allocate(self, purpose: str) -> str:
        """The next resource address (127.B.1.1 …), skipping .0 and .255 in each /24."""
        with self._lock:
            index = self._next_resource
            third, fourth = divmod(index, 254)
            third += FIRST_RESOURCE_OCTET
            if third > 255:
                raise LocalCloudError(f"address pool 127.{self.block}.0.0/16 exhausted")
            self._next_resource += 1
            address = f"127.{self.block}.{third}.{fourth + 1}"
            self._owners[address] = purpose
            return address

    def owner(self, address: str) -> str | None:
        with self._lock:
            return self._owners.get(address)

    def __contains__(self, address: object) -> bool:
        if self._block is None or not isinstance(address, str):
            return False
        try:
            return ipaddress.ip_address(address) in self.network
        except ValueError:
            return False

    def close(self) -> None:
        if self._claim is not None:
            self._claim.close()
        self._claim = None
        self._block = None
