"""AWS::ServiceDiscovery::PrivateDnsNamespace and ::Service, which moto's CloudFormation skips.

Both are made through moto's servicediscovery backend, so the Cloud Map API sees them, and, while a
LocalCloud runs, the namespace gets its private hosted zone (localcloud.cloudmap). delete_stack deletes
the service first (CloudFormation orders it by the NamespaceId reference; the namespace refuses while
services exist and is retried); instances still registered are deregistered with the service, where AWS
would fail the deletion with ResourceInUse.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed


def _backend(account_id: str, region_name: str) -> Any:
    from moto.servicediscovery.models import servicediscovery_backends

    return servicediscovery_backends[account_id][region_name]


def _unknown_attribute() -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    return UnformattedGetAttTemplateException()


class PrivateDnsNamespace(Typed, CloudFormationModel):
    """Ref: the namespace id; GetAtt Id, Arn, HostedZoneId."""

    CFN_TYPE = "AWS::ServiceDiscovery::PrivateDnsNamespace"

    def __init__(self, namespace: Any) -> None:
        self.namespace = namespace

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> PrivateDnsNamespace:
        props = cloudformation_json.get("Properties", {})
        backend = _backend(account_id, region_name)
        operation_id = backend.create_private_dns_namespace(
            name=str(props["Name"]), creator_request_id=str(uuid.uuid4()), description=props.get("Description"),
            vpc=str(props["Vpc"]), tags=props.get("Tags") or [], properties=dict(props.get("Properties") or {}))
        return cls(backend.namespaces[backend.get_operation(operation_id).targets["NAMESPACE"]])

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Arn", "HostedZoneId")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return str(self.namespace.id)
        if attribute_name == "Arn":
            return str(self.namespace.arn)
        if attribute_name == "HostedZoneId":
            return str(self.namespace.dns_properties.get("HostedZoneId", ""))
        raise _unknown_attribute()

    @property
    def physical_resource_id(self) -> str:
        return str(self.namespace.id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.namespace.id in backend.namespaces:
            backend.delete_namespace(self.namespace.id)  # ResourceInUse while its services exist: retried


class Service(Typed, CloudFormationModel):
    """Ref: the service id; GetAtt Id, Arn, Name."""

    CFN_TYPE = "AWS::ServiceDiscovery::Service"
    CFN_NAME_PROPERTY = "Name"

    def __init__(self, service: Any) -> None:
        self.service = service

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> Service:
        props = cloudformation_json.get("Properties", {})
        dns_config = dict(props.get("DnsConfig") or {}) or None
        namespace_id = props.get("NamespaceId") or (dns_config or {}).get("NamespaceId")
        if dns_config is not None:
            dns_config.setdefault("RoutingPolicy", "MULTIVALUE")
            dns_config["DnsRecords"] = [{"Type": str(r["Type"]), "TTL": int(r["TTL"])}
                                        for r in dns_config.get("DnsRecords") or []]
        custom = props.get("HealthCheckCustomConfig")
        service = _backend(account_id, region_name).create_service(
            name=str(props.get("Name") or resource_name), namespace_id=namespace_id,
            creator_request_id=str(uuid.uuid4()), description=props.get("Description"), dns_config=dns_config,
            health_check_config=props.get("HealthCheckConfig"),
            health_check_custom_config=None if custom is None else dict(custom),
            tags=props.get("Tags") or [], service_type=props.get("Type") or ("DNS_HTTP" if dns_config else "HTTP"))
        return cls(service)

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Arn", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return str(self.service.id)
        if attribute_name == "Arn":
            return str(self.service.arn)
        if attribute_name == "Name":
            return str(self.service.name)
        raise _unknown_attribute()

    @property
    def physical_resource_id(self) -> str:
        return str(self.service.id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.service.id not in backend.services:
            return
        for instance in list(self.service.instances):
            backend.deregister_instance(self.service.id, instance.instance_id)
        backend.delete_service(self.service.id)
