"""The health checkers' two links to the rest of the cloud: moto's `GetHealthCheckStatus` answers with the
checkers' real observations (moto's own is a constant "Success"), and domain-name checks resolve through
the authoritative server in-process (no packet leaves the host).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localcloud.patching import Patches
from localcloud.route53.model import normalize_name

if TYPE_CHECKING:
    from localcloud.route53.dns import AuthoritativeDNS
    from localcloud.route53.health import HealthCheckers
    from localcloud.route53.health_probe import Resolve
    from localcloud.route53.seams import AliasResolver


class StatusHook:
    """Patches `moto.route53.responses.Route53.get_health_check_status` while installed."""

    def __init__(self, checkers: HealthCheckers) -> None:
        from moto.route53.responses import Route53

        self._patches = Patches("localcloud.route53.health")
        original = Route53.get_health_check_status
        self._patches.add(Route53, "get_health_check_status", _status_handler(checkers, original))

    def install(self) -> None:
        self._patches.install()

    def uninstall(self) -> None:
        self._patches.uninstall()


def _status_handler(checkers: HealthCheckers, original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.core.responses import ActionResult

    @functools.wraps(original)
    def get_health_check_status(self: Any) -> Any:
        health_check_id = self._get_param("HealthCheckId")
        self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck as moto raises it
        found = checkers.observations(health_check_id)
        if not found:
            return original(self)
        # A checker that has not probed yet has nothing to report (AWS lists observations, not opinions).
        observations = [
            {"Region": region, "IPAddress": f"127.0.53.{index + 1}",
             "StatusReport": {"Status": obs.reason, "CheckedTime": dt.datetime.fromtimestamp(obs.at, dt.UTC)}}
            for index, (region, obs) in enumerate(found) if obs is not None]
        return ActionResult({"HealthCheckObservations": observations})

    return get_health_check_status


def resolver_for(server_of: Callable[[], AuthoritativeDNS | None], aliases: AliasResolver | None = None) -> Resolve:
    """A `Resolve` for domain-name checks: names outside every zone the cloud knows (an ALB's or
    CloudFront's name, from `aliases`) first, then the authoritative server's public view, in-process."""

    async def resolve(name: str) -> list[str]:
        import dns.message
        import dns.rdatatype

        outside = aliases.resolve(normalize_name(name), "A") if aliases is not None else None
        if outside is not None and outside.values:
            return list(outside.values)
        server = server_of()
        if server is None:
            return []
        query = dns.message.make_query(name, dns.rdatatype.A)
        wire = server.answer(query.to_wire(), None)
        if wire is None:
            return []
        answer = dns.message.from_wire(wire)
        return [item.address for rrset in answer.answer if rrset.rdtype == dns.rdatatype.A for item in rrset]

    return resolve
