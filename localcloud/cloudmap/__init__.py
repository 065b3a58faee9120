"""AWS Cloud Map's DNS for localcloud: private DNS namespaces own a private hosted zone, registered
instances become record sets there (after Route 53's propagation delay), custom health removes them.

    service.CloudMapService   the cloud's service: patches moto's servicediscovery backend, emits events
    records                   pure: a service's DnsConfig and instances -> Route 53 record sets
"""

from localcloud.cloudmap.records import Registration, record_name, record_sets
from localcloud.cloudmap.service import (
    DEREGISTER_EVENT,
    DNS_EVENT,
    HEALTH_EVENT,
    NAMESPACE_EVENT,
    REGISTER_EVENT,
    CloudMapService,
)

__all__ = [
    "DEREGISTER_EVENT",
    "DNS_EVENT",
    "HEALTH_EVENT",
    "NAMESPACE_EVENT",
    "REGISTER_EVENT",
    "CloudMapService",
    "Registration",
    "record_name",
    "record_sets",
]
