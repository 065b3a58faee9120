"""Route 53's data plane for localcloud: an authoritative DNS server over moto's hosted zones, with
routing policies, health, alias, private zones and change propagation.

    dns.AuthoritativeDNS      the server (UDP + TCP on loopback; own thread or a given asyncio loop)
    seams.HealthView          health-check verdicts it routes by (default AllHealthy; StaticHealth)
    health.HealthCheckers     the real one: checkers that probe every health check in moto (the 18 % rule)
    seams.AliasResolver       alias targets outside our zones (default none; AliasTable)
    propagation.Propagation   published zone versions, GetChange status, `localcloud.route53.*` events
    moto_bridge               the only module that touches moto (reads zones, patches the change API)
    routing.Router            the answer logic, pure
    wire                      dnspython: query in, reply out (TC for UDP)
"""

from localcloud.route53.dns import AuthoritativeDNS
from localcloud.route53.health import HEALTH_EVENT, HealthCheckers
from localcloud.route53.model import AliasTarget, RecordSet, Zone
from localcloud.route53.propagation import CHANGE_EVENT, ZONE_EVENT, Clock, EventSink, Propagation
from localcloud.route53.routing import Resolution, Router, Rrset
from localcloud.route53.seams import (
    AliasAnswer,
    AliasResolver,
    AliasTable,
    AllHealthy,
    HealthView,
    NoOutsideAliases,
    StaticHealth,
)

__all__ = [
    "CHANGE_EVENT",
    "HEALTH_EVENT",
    "ZONE_EVENT",
    "AliasAnswer",
    "AliasResolver",
    "AliasTable",
    "AliasTarget",
    "AllHealthy",
    "AuthoritativeDNS",
    "Clock",
    "EventSink",
    "HealthCheckers",
    "HealthView",
    "NoOutsideAliases",
    "Propagation",
    "RecordSet",
    "Resolution",
    "Router",
    "Rrset",
    "StaticHealth",
    "Zone",
]
