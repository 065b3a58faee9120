"""static-ip-haproxy's steady state: every node healthy as Route 53's checkers see it, that status published,
and all four addresses in the weighted answers. A scenario that never gets there is failed, with the reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
from tenacity import Retrying, retry_if_result, wait_fixed

from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.kits.kit import Deployment
from gameday.kits.static_ip_haproxy.measure import healthy_share, published_health, unpublished
from gameday.kits.static_ip_haproxy.model import STACK, health_timing
from gameday.session import GameDay
from gameday.stacks import DeployedStack, stack_config
from gameday.timeline import Event

SLOTS = ("a1", "a2", "b1", "b2")
STEADY_TIMEOUT_S = 120.0
POLL_S = 0.5
MIN_HEALTHY_SHARE = 0.9  # of a check's checkers whose last observation succeeded
# Route 53 checks from at least three regions, so a real check reports at least three observations; fewer
# is not a checker fleet (moto's stub answers one made-up success for a check localcloud has not started).
MIN_OBSERVATIONS = 3
DNS_QUERIES = 40  # weighted answers name one address each: 40 answers name all four with near certainty


@dataclass(frozen=True)
class Proxies:
    """What the scenarios address: the four static addresses by slot, the service's name and the
    authoritative server the client probe resolves at (on every connection, so no cache hides a change)."""

    stack: DeployedStack
    ips: Mapping[str, str]  # slot -> Elastic IP
    authoritative: tuple[str, int]

    @property
    def name(self) -> str:
        return self.stack.output("ServiceName")

    @property
    def health_check_ids(self) -> list[str]:
        return self.stack.output("HealthCheckIds").split(",")


def authoritative_server(backend: Backend) -> tuple[str, int] | None:
    return next(((r.host, r.port) for r in backend.resolvers() if r.kind == "authoritative"), None)


def slot_ips(deployment: Deployment) -> dict[str, str]:
    """slot -> Elastic IP, from the stack's ProxyIps output (in slot order)."""
    return dict(zip(SLOTS, deployment.output("ProxyIps").split(","), strict=True))


def proxies(deployment: Deployment, authoritative: tuple[str, int]) -> Proxies:
    return Proxies(deployment.main, slot_ips(deployment), authoritative)


def not_steady(game: GameDay, stack: Proxies, timeout_s: float = STEADY_TIMEOUT_S) -> str | None:
    """Why the stack is not in its steady state (None: it is). A node replaced earlier must come back first.

    All four in the answers alone could be Route 53's fail-open (all unhealthy), so first every checker
    must see each node succeed, then that status must reach DNS, and only then do the answers count."""
    ids = stack.health_check_ids
    route53 = game.backend.client("route53")
    if not until(lambda: all_checkers_healthy(route53, ids), game.clock, timeout_s):
        return f"the health checks {ids} never all passed within {timeout_s:.0f} s: no steady state"
    # localcloud's ground truth says when DNS answers by the new status; AWS has none (ground_truth() is
    # empty there), so wait what Route 53 needs at most: F successes per checker, then the status delay.
    if game.backend.ground_truth():
        if not until(lambda: settled_healthy(game.backend.ground_truth(), ids), game.clock, timeout_s):
            return (f"the health checks {ids} were never all healthy as DNS answers by them within "
                    f"{timeout_s:.0f} s: no steady state")
    else:
        timing = health_timing(game.profile, stack_config(STACK, stack.stack))
        game.clock.sleep(timing.failure_threshold * timing.interval_s
                         + game.profile.delay("route53.status_to_dns").high)
    if not until(lambda: set(stack.ips.values()) <= answered(stack.authoritative, stack.name), game.clock,
                 timeout_s):
        return (f"not all four proxies {sorted(stack.ips.values())} in the answers for {stack.name} "
                f"within {timeout_s:.0f} s: the stack never reached its steady state")
    return None


def settled_healthy(events: Sequence[Event], health_check_ids: Sequence[str]) -> bool:
    """Every check healthy as DNS answers by it, and no flip on its way to DNS."""
    return all(published_health(events, health_check_ids).values()) and not unpublished(events, health_check_ids)


def until(condition: Callable[[], bool], clock: Clock, timeout_s: float, poll_s: float = POLL_S) -> bool:
    """Whether `condition` came true within `timeout_s` on the injected clock."""
    deadline = clock.monotonic() + timeout_s
    retrying = Retrying(retry=retry_if_result(lambda ok: not ok), wait=wait_fixed(poll_s),
                        stop=lambda _: clock.monotonic() >= deadline, sleep=clock.sleep,
                        retry_error_callback=lambda _: False)
    return bool(retrying(condition))


def all_checkers_healthy(route53: Any, health_check_ids: Sequence[str]) -> bool:
    """Every health check probed by real checkers, at least MIN_HEALTHY_SHARE of their last observations a
    success."""
    for hc in health_check_ids:
        observations = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]
        if len(observations) < MIN_OBSERVATIONS or healthy_share(observations) < MIN_HEALTHY_SHARE:
            return False
    return True


def answered(server: tuple[str, int], name: str, queries: int = DNS_QUERIES) -> set[str]:
    """Every address `queries` A answers from `server` named together (a lost query is just not counted)."""
    seen: set[str] = set()
    for _ in range(queries):
        try:
            reply = dns.query.udp(dns.message.make_query(name, "A"), server[0], port=server[1], timeout=1.0)
        except (dns.exception.DNSException, OSError):
            continue
        seen.update(item.to_text() for rrset in reply.answer for item in rrset)
    return seen

