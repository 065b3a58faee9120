"""CloudFormation on moto, fixed for the reference stacks: what delete_stack forgets, and missing types.

`CfnFixes().install()` (done by LocalCloud.start) makes delete_stack really delete Elastic IPs,
internet gateways and their attachments, route tables, routes, subnet associations and hosted zones
(moto leaves them behind, and a VPC with a route table left then refuses to go), and registers the
resource types in `localcloud.cfn.resources` and `localcloud.cfn.ipv6` with moto's template engine;
Elastic IPs keep their `Tags`; `Fn::Cidr` evaluates; subnets, routes and security groups keep their IPv6;
hosted zones with `VPCs` are private zones associated with them. AWS's create-time validations that moto
skips are raised by the API and CloudFormation alike (`localcloud.cfn.validations`), and a resource its
service refuses fails the stack, which rolls back as on AWS (`localcloud.cfn.failures`).
"""

from __future__ import annotations

from typing import Any

from localcloud.cfn.cidr import cidr_function_patches
from localcloud.cfn.deletion import DELETERS
from localcloud.cfn.eip_tags import eip_tag_patches
from localcloud.cfn.failures import failure_patches
from localcloud.cfn.private_zones import private_zone_patches
from localcloud.cfn.sg_rules import sg_rule_patches
from localcloud.cfn.validations import validation_patches
from localcloud.patching import Patches

__all__ = ["CfnFixes", "DELETERS"]


def _condition_refs(node: Any) -> Any:
    """{"Fn::Condition": name} (moto's YAML short form) as {"Condition": name}, at any depth."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Condition"}:
            return {"Condition": node["Fn::Condition"]}
        return {key: _condition_refs(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_condition_refs(value) for value in node]
    return node


class CfnFixes:
    def __init__(self) -> None:
        self._patches = Patches("localcloud.cfn")
        from localcloud.cfn.ipv6 import ipv6_patches  # imports moto: not when localcloud is imported
        from localcloud.cfn.network_interfaces import interface_patches

        self._eip_tags = eip_tag_patches()
        self._more = [cidr_function_patches(), ipv6_patches(), sg_rule_patches(), private_zone_patches(),
                      validation_patches(), failure_patches(), interface_patches()]

    def install(self) -> None:
        from moto.cloudformation import parsing

        from localcloud.cfn import resources

        original = parsing.ResourceMap._delete_resource

        def _delete_resource(resource_map: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
            deleter = DELETERS.get(resource_json.get("Type", ""))
            if deleter is None:
                original(resource_map, parsed_resource, resource_json)
                return
            deleter(parsed_resource, resource_map._account_id, resource_map._region_name)

        self._patches.add(parsing.ResourceMap, "_delete_resource", _delete_resource)
        original_load = parsing.ResourceMap.load_parameters

        def load_parameters(resource_map: Any) -> None:
            """moto splits a list parameter's value only when it is passed: a default stays one string, so
            `!Select [0, !Ref Types]` picked its first character. Split defaults too, as AWS does."""
            original_load(resource_map)
            for name, slot in resource_map._template.get("Parameters", {}).items():
                kind, value = str(slot.get("Type", "")), resource_map.resolved_parameters.get(name)
                if isinstance(value, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
                    items: list[Any] = [v.strip() for v in value.split(",")]
                    if kind == "List<Number>":
                        items = [float(v) if "." in v else int(v) for v in items]
                    resource_map.resolved_parameters[name] = items
                    resource_map._parsed_resources[name] = items

        self._patches.add(parsing.ResourceMap, "load_parameters", load_parameters)
        original_condition = parsing.parse_condition

        def parse_condition(condition: Any, resources_map: Any, condition_map: Any) -> Any:
            """moto reads the YAML short form `!Condition Name` as {"Fn::Condition": Name} but only resolves
            {"Condition": Name}: `!Not [!Condition X]` was always true. Read both, as AWS does."""
            return original_condition(_condition_refs(condition), resources_map, condition_map)

        self._patches.add(parsing, "parse_condition", parse_condition)
        self._patches.install()
        self._eip_tags.install()
        for patches in self._more:
            patches.install()
        resources.register()  # after localcloud.cfn.ipv6 is imported: its types are listed too

    def uninstall(self) -> None:
        for patches in reversed(self._more):
            patches.uninstall()
        self._eip_tags.uninstall()
        self._patches.uninstall()
