"""dns-failover-fargate's judge and client choice, on synthetic timelines: nothing deployed, nothing sleeps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from gameday.backends.base import Resolver
from gameday.clock import FakeClock
from gameday.kits.dns_failover_fargate.scenarios import (
    FALLBACK_IDENTITY,
    SCENARIOS,
    client_probe,
    fallback_judge,
    primary_resolver,
)
from gameday.kits.kit import Deployment
from gameday.reports import RunReport
from gameday.run import RunPaths
from gameday.scenario import FailoverRun, Verdict
from gameday.session import GameDay
from gameday.timeline import Event, Outcome, Sample, Timeline
from localcloud import profiles

CACHING = Resolver("caching", "127.0.0.1", 53, "caching")
AUTHORITATIVE = Resolver("authoritative", "127.0.0.2", 53, "authoritative")
FAULT_AT = 1_010.0
REVERT_AT = 1_030.0
RATE_HZ = 5.0
NGINX = "nginx/1.28.0"  # the tasks' Server header


def _timeline(*, before: str, during: str = FALLBACK_IDENTITY, after: str = NGINX) -> Timeline:
    """The caching client's answers (served_by): `before` the fault, the ALB's 503s for 8 s, `during` the
    fault, `after` the revert."""
    timeline = Timeline.begin("synthetic", FakeClock(start_at=1_000.0))
    timeline.add_event(Event(FAULT_AT, "fault.inject", "gameday", "svc", {}))
    timeline.add_event(Event(REVERT_AT, "fault.revert", "gameday", "svc", {}))
    for seq in range(int(45 * RATE_HZ)):
        sent_at = 1_000.0 + seq / RATE_HZ
        served_by: str | None = before if sent_at < FAULT_AT else during if sent_at <= REVERT_AT else after
        down = FAULT_AT <= sent_at < FAULT_AT + 8.0
        served_by = None if down else served_by
        timeline.add_sample(Sample(client_probe(CACHING), "http", "http://app/", seq, seq / RATE_HZ, seq / RATE_HZ,
                                   sent_at, Outcome.HTTP_5XX if down else Outcome.OK, 0.01,
                                   status=503 if down else 200, served_by=served_by))
    return timeline


def _judge(timeline: Timeline) -> Any:
    run = cast(FailoverRun, SimpleNamespace(timeline=timeline, budget_s=26.0))
    judge = fallback_judge([CACHING], client_probe(CACHING), failback_budget_s=26.0)
    return judge(run, cast(Any, None), FAULT_AT)


def test_service_then_fallback_then_service_passes() -> None:
    judged = _judge(_timeline(before=NGINX))

    assert judged.verdict is Verdict.PASSED, judged.message
    assert judged.headline is not None and judged.headline.seconds == 8.0


def test_fallback_page_before_the_fault_fails_the_steady_state() -> None:
    judged = _judge(_timeline(before=FALLBACK_IDENTITY))

    assert judged.verdict is Verdict.FAILED
    assert "the service never answered before the fault" in judged.message


def test_the_primary_client_is_the_caching_one_else_the_authoritative_one() -> None:
    assert primary_resolver([AUTHORITATIVE, CACHING]) == CACHING
    assert primary_resolver([AUTHORITATIVE]) == AUTHORITATIVE
    assert primary_resolver([]) is None


class NoResolvers:
    name, profile, region = "aws", "realistic", "us-east-1"

    def resolvers(self) -> list[Resolver]:
        return []


def test_no_resolver_at_all_is_not_run_with_the_reason(tmp_path: Path) -> None:
    clock = FakeClock()
    game = GameDay(cast(Any, NoResolvers()), profiles.load("fast"), RunPaths.create("fgtest", tmp_path),
                   RunReport("fgtest", "aws", "fast", clock.now()), clock)
    spec = SCENARIOS[0]

    [result] = spec.run(game, Deployment(spec.stack_id, {}), spec)

    assert result.verdict is Verdict.NOT_RUN
    assert "no caching or authoritative resolver" in result.message
    assert game.report.scenarios == [result]
