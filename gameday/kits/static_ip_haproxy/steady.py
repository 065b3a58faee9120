"""static-ip-haproxy's steady state: every node healthy as Route 53's real checkers see it (and as DNS answers
by it, where ground truth says so), and exactly the four addresses in the weighted answers, never Route 53
failing open. The rules are the generic health-checked DNS block's; a scenario that never gets there is
failed, with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gameday.kits.blocks.health_dns import HealthDns, authoritative_server
from gameday.kits.blocks.health_dns import not_steady as health_dns_not_steady
from gameday.kits.kit import Deployment
from gameday.scenario import steady_timeout
from gameday.session import GameDay
from gameday.stacks import DeployedStack

__all__ = ["SLOTS", "Proxies", "authoritative_server", "not_steady", "proxies", "slot_ips"]

SLOTS = ("a1", "a2", "b1", "b2")


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


def slot_ips(deployment: Deployment) -> dict[str, str]:
    """slot -> Elastic IP, from the stack's ProxyIps output (in slot order)."""
    return dict(zip(SLOTS, deployment.output("ProxyIps").split(","), strict=True))


def proxies(deployment: Deployment, authoritative: tuple[str, int]) -> Proxies:
    return Proxies(deployment.main, slot_ips(deployment), authoritative)


def not_steady(game: GameDay, stack: Proxies, timeout_s: float | None = None) -> str | None:
    """Why the stack is not in its steady state (None: it is). A node replaced earlier must come back first.

    All four in the answers alone could be Route 53's fail-open (all unhealthy), so every check must have
    passed at real checkers and (ground truth, where the backend has it) be published healthy; without
    ground truth (AWS) the block waits what Route 53 needs at most, F successes plus the status delay."""
    return health_dns_not_steady(HealthDns(game.backend, stack.stack, stack.name, stack.authoritative),
                                 game.clock, game.profile, timeout_s or steady_timeout(game.profile))
