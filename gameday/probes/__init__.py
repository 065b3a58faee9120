"""Client-side probes: open-loop HTTP, keep-alive HTTP, health, DNS and TCP samplers.

    specs = [HttpProbe("http:eip", "http://127.0.0.5/", rate_hz=20)]
    with ProbeRunner(timeline, specs, allowed_networks=["127.0.0.0/8"]) as runner:
        runner.wait_for_streak(20, timeout_s=30)   # steady state
        ...                                        # inject the fault, watch
"""

from gameday.probes.base import OutsideAllowedNetworks
from gameday.probes.runner import ProbeRunner, ProbeStats
from gameday.probes.specs import (
    MAX_RATE_HZ,
    AnyProbe,
    DnsProbe,
    HealthProbe,
    HttpProbe,
    ProbeSpec,
    TcpProbe,
)

__all__ = [
    "MAX_RATE_HZ",
    "AnyProbe",
    "DnsProbe",
    "HealthProbe",
    "HttpProbe",
    "OutsideAllowedNetworks",
    "ProbeRunner",
    "ProbeSpec",
    "ProbeStats",
    "TcpProbe",
]
