"""AWS::EC2::EIP `Tags` (moto's CloudFormation drops them): a stack whose instances find their Elastic IP
by tag at boot needs them on the address, as AWS puts them there."""

from __future__ import annotations

from typing import Any

from localcloud.patching import Patches


def eip_tag_patches() -> Patches:
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress

    patches = Patches("localcloud.cfn.eip_tags")
    original = ElasticAddress.create_from_cloudformation_json

    def create_from_cloudformation_json(resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        eip = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        tags = (cloudformation_json.get("Properties") or {}).get("Tags") or []
        eip.add_tags({str(tag["Key"]): str(tag["Value"]) for tag in tags if "Key" in tag})
        return eip

    patches.add(ElasticAddress, "create_from_cloudformation_json", classmethod(
        lambda cls, *args, **kwargs: create_from_cloudformation_json(*args, **kwargs)))
    return patches
