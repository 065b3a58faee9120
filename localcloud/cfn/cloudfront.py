"""AWS::CloudFront::Distribution, ::OriginAccessControl and ::VpcOrigin, which moto's CloudFormation skips.

A distribution is handed to localcloud's CloudFront service (the `_sink`, installed while a cloud runs),
which starts an edge for it; `Ref` is the distribution id, `GetAtt DomainName`/`Id` work. A VPC origin
(`VpcOriginEndpointConfig`: Name, Arn of an instance or load balancer, HTTPPort, HTTPSPort,
OriginProtocolPolicy) is handed to the same service, which records the VPC its endpoint is in; `Ref` and
`GetAtt Id` are its id, `GetAtt Arn` its ARN.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed


class DistributionSink(Protocol):
    def create_distribution(self, distribution_id: str, config: dict[str, Any]) -> str:
        """Start serving `config`; returns the distribution's domain name."""

    def delete_distribution(self, distribution_id: str) -> None: ...


class VpcOriginSink(Protocol):
    def create_vpc_origin(self, vpc_origin_id: str, endpoint: dict[str, Any], account_id: str,
                          region_name: str) -> None:
        """Record the VPC origin `endpoint` (its VpcOriginEndpointConfig) under `vpc_origin_id`."""

    def delete_vpc_origin(self, vpc_origin_id: str) -> None: ...


def new_distribution_id() -> str:
    return "E" + secrets.token_hex(6).upper()


class Distribution(Typed, CloudFormationModel):
    CFN_TYPE = "AWS::CloudFront::Distribution"

    _sink: DistributionSink | None = None  # patched in by localcloud.cloudfront while a cloud runs

    def __init__(self, distribution_id: str, domain_name: str, account_id: str) -> None:
        self.distribution_id = distribution_id
        self.domain_name = domain_name
        self.arn = f"arn:aws:cloudfront::{account_id}:distribution/{distribution_id}"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Distribution:
        if cls._sink is None:
            raise RuntimeError("no localcloud CloudFront service is running")
        config = dict(cloudformation_json.get("Properties", {}).get("DistributionConfig", {}))
        distribution_id = new_distribution_id()
        config["_Arn"] = f"arn:aws:cloudfront::{account_id}:distribution/{distribution_id}"
        domain = cls._sink.create_distribution(distribution_id, config)
        return cls(distribution_id, domain, account_id)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("DomainName", "Id")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "DomainName":
            return self.domain_name
        if attribute_name == "Id":
            return self.distribution_id
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @property
    def physical_resource_id(self) -> str:
        return self.distribution_id

    def delete(self, account_id: str, region_name: str) -> None:
        if self._sink is not None:
            self._sink.delete_distribution(self.distribution_id)


class OriginAccessControl(Typed, CloudFormationModel):
    """Only an id: the S3 data plane trusts CloudFront's service principal by the distribution's ARN."""

    CFN_TYPE = "AWS::CloudFront::OriginAccessControl"

    def __init__(self) -> None:
        self.oac_id = "E" + secrets.token_hex(7).upper()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> OriginAccessControl:
        return cls()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.oac_id

    @property
    def physical_resource_id(self) -> str:
        return self.oac_id

    def delete(self, account_id: str, region_name: str) -> None:
        return None


class VpcOrigin(Typed, CloudFormationModel):
    CFN_TYPE = "AWS::CloudFront::VpcOrigin"

    _sink: VpcOriginSink | None = None  # patched in by localcloud.cloudfront while a cloud runs

    def __init__(self, vpc_origin_id: str, account_id: str) -> None:
        self.vpc_origin_id = vpc_origin_id
        self.arn = f"arn:aws:cloudfront::{account_id}:vpcorigin/{vpc_origin_id}"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> VpcOrigin:
        if cls._sink is None:
            raise RuntimeError("no localcloud CloudFront service is running")
        endpoint = dict(cloudformation_json.get("Properties", {}).get("VpcOriginEndpointConfig", {}))
        if not endpoint.get("Arn"):
            raise ValueError(f"{resource_name}: VpcOriginEndpointConfig.Arn is required")
        vpc_origin_id = "vo_" + secrets.token_hex(11)
        cls._sink.create_vpc_origin(vpc_origin_id, endpoint, account_id, region_name)
        return cls(vpc_origin_id, account_id)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Id")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Arn":
            return self.arn
        if attribute_name == "Id":
            return self.vpc_origin_id
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    @property
    def physical_resource_id(self) -> str:
        return self.vpc_origin_id

    def delete(self, account_id: str, region_name: str) -> None:
        if self._sink is not None:
            self._sink.delete_vpc_origin(self.vpc_origin_id)
