"""CloudFormation on moto, fixed for the reference stacks: what delete_stack forgets, and missing types.

`CfnFixes().install()` (done by LocalCloud.start) makes delete_stack really delete Elastic IPs,
internet gateways and their attachments, route tables, routes, subnet associations and hosted zones
(moto leaves them behind, and a VPC with a route table left then refuses to go), and registers the
resource types in `localcloud.cfn.resources` with moto's template engine; Elastic IPs keep their `Tags`;
hosted zones with `VPCs` are private zones associated with them.
"""

from __future__ import annotations

from typing import Any

from localcloud.cfn.deletion import DELETERS
from localcloud.cfn.eip_tags import eip_tag_patches
from localcloud.cfn.private_zones import private_zone_patches
from localcloud.patching import Patches

__all__ = ["CfnFixes", "DELETERS"]


class CfnFixes:
    def __init__(self) -> None:
        self._patches = Patches("localcloud.cfn")
        self._eip_tags = eip_tag_patches()
        self._private_zones = private_zone_patches()

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
        self._patches.install()
        self._eip_tags.install()
        self._private_zones.install()
        resources.register()

    def uninstall(self) -> None:
        self._private_zones.uninstall()
        self._eip_tags.uninstall()
        self._patches.uninstall()
