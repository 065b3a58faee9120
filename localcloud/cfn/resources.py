"""Resource types moto's CloudFormation lacks, written as moto models so its template engine uses them.

moto's engine lists `CloudFormationModel.__subclasses__()` (cached), so `register()` clears that cache
after this module is imported. Add a type as `class X(Typed, CloudFormationModel)` with `CFN_TYPE`,
`create_from_cloudformation_json`, `physical_resource_id` and, for delete_stack, `delete`.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed


def register() -> None:
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


class EIPAssociation(Typed, CloudFormationModel):
    """AWS::EC2::EIPAssociation: associate an Elastic IP (AllocationId or EIP) with an instance or ENI."""

    CFN_TYPE = "AWS::EC2::EIPAssociation"

    def __init__(self, account_id: str, region_name: str, public_ip: str, association_id: str | None) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.public_ip = public_ip
        self.association_id = association_id

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> EIPAssociation:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account_id][region_name]
        props = cloudformation_json.get("Properties", {})
        instance = backend.get_instance(props["InstanceId"]) if props.get("InstanceId") else None
        eni = backend.get_network_interface(props["NetworkInterfaceId"]) if props.get("NetworkInterfaceId") else None
        eip = backend.associate_address(instance=instance, eni=eni, address=props.get("EIP"),
                                        allocation_id=props.get("AllocationId"), reassociate=True)
        return cls(account_id, region_name, eip.public_ip, eip.association_id)

    @property
    def physical_resource_id(self) -> str:
        return self.association_id or self.public_ip

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account_id][region_name]
        for eip in backend.addresses:
            if eip.public_ip == self.public_ip and eip.association_id == self.association_id:
                backend.disassociate_address(address=self.public_ip)
