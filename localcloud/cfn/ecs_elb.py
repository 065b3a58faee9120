"""ECS, ELBv2 and Route 53 records under moto's CloudFormation: an ECS service keeps its LoadBalancers (moto
drops them); delete_stack really removes ECS services, clusters and ELBv2 target groups (moto leaves them)
and deletes one record set of a failover pair, not both."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from localcloud.patching import Patches


def service_load_balancers_patch() -> Patches:
    """Keep `LoadBalancers` of AWS::ECS::Service (camelCase, as the ECS API stores them)."""
    from moto.ecs.models import Service

    original: Callable[..., Any] = Service.create_from_cloudformation_json.__func__

    @functools.wraps(original)
    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        service = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        balancers = cloudformation_json.get("Properties", {}).get("LoadBalancers") or []
        service.load_balancers = [{"targetGroupArn": str(b.get("TargetGroupArn", "")),
                                   "containerName": str(b.get("ContainerName", "")),
                                   "containerPort": int(b.get("ContainerPort", 80))} for b in balancers]
        service.launch_type = cloudformation_json.get("Properties", {}).get("LaunchType", service.launch_type)
        return service

    patches = Patches("localcloud.ecs")
    patches.add(Service, "create_from_cloudformation_json", classmethod(create))
    return patches


def delete_ecs_service(service: Any, account_id: str, region: str) -> None:
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[account_id][region]
    if f"{service.cluster_name}:{service.name}" in backend.services:
        backend.delete_service(service.cluster_name, service.name, force=True)


def delete_ecs_cluster(cluster: Any, account_id: str, region: str) -> None:
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[account_id][region]
    if cluster.name in backend.clusters:
        backend.delete_cluster(cluster.name)  # ClusterContainsServicesException until the service is gone: retried


def delete_target_group(group: Any, account_id: str, region: str) -> None:
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[account_id][region]
    if group.arn in backend.target_groups:
        backend.delete_target_group(group.arn)  # ResourceInUse while a listener forwards to it: retried


def delete_record_set(record: Any, account_id: str, region: str) -> None:
    """Delete exactly this record set (moto's own deletes every record set with the same name, so a
    failover pair loses both at once and the second delete finds its zone gone)."""
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    backend = route53_backends[account_id][get_partition(region)]
    zone = None
    if record.hosted_zone_id:
        zone = backend.zones.get(str(record.hosted_zone_id).rsplit("/", 1)[-1])
    elif record.hosted_zone_name:
        zone = next((z for z in backend.zones.values() if z.name.rstrip(".") == str(record.hosted_zone_name)
                     .rstrip(".")), None)
    if zone is None:
        return  # the zone is gone, and its records with it
    zone.rrsets = [r for r in zone.rrsets if not (r.name == record.name and r.type == record.type
                                                  and r.set_identifier == record.set_identifier)]
