"""Judges over a DNS probe's answers: an address leaves the answers (a dead node), and comes back (its
replacement claimed the same address and passed its health check). Pure functions of a `Timeline`.

Multivalue answers name every healthy address at once; weighted answers name one each, so "left" means a
gap of `gap_s` without the address, never one answer that happened not to name it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from gameday.timeline import Outcome, Sample, Timeline

LEAVE_GAP_S = 3.0  # answers without the address for this long: it left (weighted answers are samples)


@dataclass(frozen=True)
class AddressMove:
    """When `addresses` left a DNS probe's answers after the fault, and when they were back."""

    probe: str
    addresses: tuple[str, ...]
    left_s: float | None  # since the fault: the first answer without them that started the gap
    last_seen_s: float | None  # since the fault: the last answer still naming one before the gap
    back_s: float | None  # since the fault: the first answer naming them all again after the gap
    stayed: bool  # back, and in every answer from then to the end of the run (multivalue) or regularly (weighted)
    answers_after: int  # answered samples after the fault

    @property
    def left(self) -> bool:
        return self.left_s is not None

    @property
    def back(self) -> bool:
        return self.back_s is not None and self.stayed


def answered(timeline: Timeline, probe: str, since: float) -> list[Sample]:
    return [s for s in timeline.samples_of(probe) if s.outcome is Outcome.OK and s.sent_at >= since]


def address_move(timeline: Timeline, probe: str, addresses: Collection[str], fault_at: float,
                 gap_s: float = LEAVE_GAP_S) -> AddressMove:
    """The first gap of at least `gap_s` without any of `addresses` after the fault, and the first answer
    naming all of them again after it (which must then keep appearing: no such gap until the end)."""
    wanted = frozenset(addresses)
    samples = answered(timeline, probe, fault_at)
    gap = _first_gap(samples, wanted, gap_s)
    if gap is None:
        return AddressMove(probe, tuple(sorted(wanted)), None, None, None, False, len(samples))
    start, reappears = gap
    last_seen = samples[start - 1].sent_at if start > 0 else None
    back = next((i for i in range(reappears, len(samples)) if wanted <= set(samples[i].answers)), None)
    stayed = back is not None and _first_gap(samples[back:], wanted, gap_s) is None
    return AddressMove(probe, tuple(sorted(wanted)), samples[start].sent_at - fault_at,
                       _since(last_seen, fault_at), None if back is None else samples[back].sent_at - fault_at,
                       stayed, len(samples))


def _first_gap(samples: Sequence[Sample], wanted: frozenset[str], gap_s: float) -> tuple[int, int] | None:
    """(first sample without any of `wanted`, the sample naming one again or len) of the first gap >= gap_s."""
    start: int | None = None
    for index, sample in enumerate(samples):
        present = bool(wanted & set(sample.answers))
        if not present and start is None:
            start = index
        elif present and start is not None:
            if sample.sent_at - samples[start].sent_at >= gap_s:
                return start, index
            start = None
    if start is not None and samples[-1].sent_at - samples[start].sent_at >= gap_s:
        return start, len(samples)
    return None


def _since(at: float | None, fault_at: float) -> float | None:
    return None if at is None else at - fault_at


@dataclass(frozen=True)
class DnsVerdict:
    passed: bool
    message: str
    seconds: float | None  # the judged time since the fault (None: it never happened)


def judge_leave(move: AddressMove, budget_s: float) -> DnsVerdict:
    """The dead address out of the answers within the budget (timed at the first answer without it)."""
    who = ", ".join(move.addresses)
    if not move.left or move.left_s is None:
        return DnsVerdict(False, f"{who} never left the answers at {move.probe} "
                                 f"({move.answers_after} answers after the fault)", None)
    within = move.left_s <= budget_s
    return DnsVerdict(within, f"{who} left the answers at {move.probe} after {move.left_s:.2f} s "
                              f"({'within' if within else 'over'} the {budget_s:.1f} s budget)", move.left_s)


def judge_back(move: AddressMove, budget_s: float) -> DnsVerdict:
    """The replaced node's address back in the answers (and staying there) within the budget."""
    who = ", ".join(move.addresses)
    if not move.left:
        return DnsVerdict(False, f"{who} never left the answers at {move.probe}, so it cannot come back", None)
    if move.back_s is None:
        return DnsVerdict(False, f"{who} never came back into the answers at {move.probe}", None)
    if not move.stayed:
        return DnsVerdict(False, f"{who} came back at {move.probe} after {move.back_s:.2f} s but left again", None)
    within = move.back_s <= budget_s
    return DnsVerdict(within, f"{who} back in the answers at {move.probe} after {move.back_s:.2f} s "
                              f"({'within' if within else 'over'} the {budget_s:.1f} s budget)", move.back_s)


def failed_share(samples: Sequence[Sample]) -> tuple[int, int]:
    """(failed, total) of a client probe's samples."""
    return sum(not s.good for s in samples), len(samples)
