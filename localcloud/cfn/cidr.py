"""`Fn::Cidr` (`!Cidr [ipBlock, count, cidrBits]`), which moto's template engine does not know: the
function as AWS documents it, and the patch that teaches moto's `clean_json` to evaluate it."""

from __future__ import annotations

import ipaddress
import itertools
from typing import Any

from localcloud.patching import Patches

MAX_COUNT = 256  # AWS: "count: The number of CIDRs to generate. Valid range is between 1 and 256."


class CidrFunctionError(ValueError):
    """The arguments of an `Fn::Cidr` cannot be evaluated; the message says which one and why."""


def cidr_blocks(ip_block: Any, count: Any, cidr_bits: Any) -> list[str]:
    """The first `count` blocks of `ip_block` with `cidr_bits` host bits each (IPv4 or IPv6).

    `cidr_bits` counts host bits, not the prefix: 5 in an IPv4 block gives /27s, 64 in an IPv6 /56
    gives /64s. Numbers may come as strings, as they do from template parameters.
    """
    try:
        network = ipaddress.ip_network(str(ip_block))
    except ValueError as exc:
        raise CidrFunctionError(f"ipBlock {ip_block!r} is not a CIDR block: {exc}") from None
    count_, bits = _integer("count", count), _integer("cidrBits", cidr_bits)
    if not 1 <= count_ <= MAX_COUNT:
        raise CidrFunctionError(f"count {count_} is outside 1..{MAX_COUNT}")
    prefix = network.max_prefixlen - bits
    if not network.prefixlen <= prefix <= network.max_prefixlen:
        raise CidrFunctionError(f"cidrBits {bits} does not fit {network} (at most "
                                f"{network.max_prefixlen - network.prefixlen} host bits)")
    available = 2 ** (prefix - network.prefixlen)
    if count_ > available:
        raise CidrFunctionError(f"{network} holds only {available} blocks of /{prefix}, not {count_}")
    return [str(block) for block in itertools.islice(network.subnets(new_prefix=prefix), count_)]


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise CidrFunctionError(f"{name} {value!r} is not an integer")
    try:
        return int(str(value))
    except ValueError:
        raise CidrFunctionError(f"{name} {value!r} is not an integer") from None


def cidr_function_patches() -> Patches:
    """Wrap moto's `clean_json` (it resolves every intrinsic function, and calls itself by its module
    global, so nested functions inside `Fn::Cidr` and `Fn::Cidr` inside `Fn::Select` both resolve)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if not (isinstance(resource_json, dict) and "Fn::Cidr" in resource_json):
            return original(resource_json, resources_map)
        arguments = original(resource_json["Fn::Cidr"], resources_map)
        if not isinstance(arguments, list) or len(arguments) != 3:
            raise ValidationError(message="Template error: Fn::Cidr takes a list of 3 arguments: "
                                          f"[ipBlock, count, cidrBits], got {arguments!r}")
        try:
            return cidr_blocks(*arguments)
        except CidrFunctionError as exc:
            raise ValidationError(message=f"Template error: Fn::Cidr: {exc}") from exc

    patches = Patches("localcloud.cfn.cidr")
    patches.add(parsing, "clean_json", clean_json)
    return patches
