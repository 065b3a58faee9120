"""Reading one spot-vpc-origin variant out of a run that broke every variant at the same moment: its own
timeline, what its clients went through (`VariantReading`), who the record named over time (`RecordSpan`)
and, with two instances alive at once, the last-writer-wins window (`ThrashReading`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gameday.analysis import FailoverResult, analyze
from gameday.kits.spot_vpc_origin.deploy import VariantStacks
from gameday.timeline import Event, Outcome, Sample, Timeline


def identifiers(stack: VariantStacks) -> set[str]:
    """What this variant's ground-truth events may name."""
    ids = {stack.group, stack.instance_id, stack.origin.output("VpcId"), stack.origin.output("InternalZoneId"),
           stack.edge.output("DistributionId"), stack.edge.output("VpcOriginId"), stack.origin_name,
           stack.origin_name + "."}
    ids |= {physical for _, physical in stack.origin.resources.values()}
    ids |= {physical for _, physical in stack.edge.resources.values()}
    return {i for i in ids if i}


def _mentions(event: Event, ids: set[str]) -> bool:
    if event.subject in ids:
        return True
    for value in event.detail.values():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and v in ids for v in values):
            return True
    return False


def events_of(stack: VariantStacks, events: Sequence[Event]) -> list[Event]:
    """This variant's events: those naming its resources, and the instances its group launched."""
    ids = identifiers(stack)
    for event in events:  # instances launched by the group during the run
        if event.detail.get("asg") == stack.group:
            ids |= {v for v in (event.subject, event.detail.get("instance")) if isinstance(v, str) and v}
    return [e for e in events if e.kind != "fault.inject" and _mentions(e, ids)]


def variant_timeline(run: Timeline, stack: VariantStacks, fault_at: float, fault_target: str) -> Timeline:
    samples, events = run.snapshot()
    view = Timeline(run.run_id, run.origin_at, run.origin_mono,
                    labels={**run.labels, "variant": stack.variant})
    view.add_samples(s for s in samples if s.probe in (stack.cdn_probe, stack.dns_probe))
    view.add_events(events_of(stack, events))
    view.add_event(Event(fault_at, "fault.inject", "gameday", fault_target, {"variant": stack.variant}))
    return view


@dataclass(frozen=True)
class VariantReading:
    """What one variant's clients went through (seconds since the fault unless named otherwise)."""

    variant: str
    aaaa_switch_s: float | None  # the VPC's DNS server names the new instance (never, for a fixed address)
    interface_moved_s: float | None  # the fixed address reaches the new instance (eni variant, ground truth)
    record_moved: bool  # a fixed address's record answered anything else (it must not)
    edge_switch_s: float | None  # CloudFront's own cached answer moved to it
    outage_start_s: float | None  # first CloudFront answer not from an instance
    served_again_s: float | None  # stable on an instance again (the failover time)
    outage_s: float | None  # served_again - outage_start
    fallback_samples: int  # maintenance pages served
    error_samples: int  # errors served (from the origin or from CloudFront's error cache)
    instances: tuple[str, ...]  # instances that served through CloudFront, in order

    def to_detail(self) -> dict[str, Any]:
        return {"reading": "failover",
                **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}}


def read_variant(view: Timeline, stack: VariantStacks, fault_at: float, failover: FailoverResult) -> VariantReading:
    cdn = [s for s in view.samples_of(stack.cdn_probe) if s.sent_at >= fault_at]
    bad = [s for s in cdn if not s.good]
    first_bad = bad[0].sent_at - fault_at if bad else None
    stable = failover.phase("stable")
    served_again = stable.since_fault_s if stable is not None else None
    return VariantReading(
        variant=stack.variant,
        aaaa_switch_s=_first_answer_without(view.samples_of(stack.dns_probe), stack.ipv6, fault_at),
        interface_moved_s=_interface_moved(view, stack, fault_at),
        record_moved=stack.fixed_address and _first_answer_without(view.samples_of(stack.dns_probe), stack.ipv6,
                                                                   fault_at) is not None,
        edge_switch_s=_edge_switch(view, stack, fault_at),
        outage_start_s=first_bad,
        served_again_s=served_again,
        outage_s=(served_again - first_bad) if served_again is not None and first_bad is not None else None,
        fallback_samples=sum(1 for s in bad if s.outcome is Outcome.FALLBACK),
        error_samples=sum(1 for s in bad if s.outcome is not Outcome.FALLBACK),
        instances=tuple(dict.fromkeys(s.served_by for s in view.samples_of(stack.cdn_probe)
                                      if s.good and s.served_by)),
    )


def _first_answer_without(samples: Sequence[Sample], old: str, fault_at: float) -> float | None:
    """When the record first named an address other than the old one (and something at all)."""
    for sample in samples:
        if sample.sent_at >= fault_at and sample.answers and not _names(sample.answers, old):
            return sample.sent_at - fault_at
    return None


def _names(answers: Iterable[str], address: str) -> bool:
    wanted = ipaddress.ip_address(address)
    for answer in answers:
        try:
            if ipaddress.ip_address(answer.split()[-1]) == wanted:
                return True
        except ValueError:
            continue
    return False


def _interface_moved(view: Timeline, stack: VariantStacks, fault_at: float) -> float | None:
    """When the interface's address first routed to an instance other than the one broken (localcloud's
    ground truth; None elsewhere, and for the variants without an interface)."""
    if not stack.fixed_address:
        return None
    for event in view.events_of("localcloud.eni.routed"):
        if event.at >= fault_at and event.detail.get("instance") not in (None, stack.instance_id):
            return event.at - fault_at
    return None


def _edge_switch(view: Timeline, stack: VariantStacks, fault_at: float) -> float | None:
    for event in view.events_of("localcloud.cloudfront.origin_dns"):
        addresses = event.detail.get("addresses") or []
        if event.at >= fault_at and addresses and not _names(addresses, stack.ipv6):
            return event.at - fault_at
    return None


def analyze_variant(view: Timeline, stack: VariantStacks, fault_at: float, stable_window_s: float) -> FailoverResult:
    return analyze(view, fault_at=fault_at, probe=stack.cdn_probe, stable_window_s=stable_window_s)


# --- who the record names over time (two instances alive, cleanup on termination) ---

_ANSWERED = (Outcome.OK, Outcome.DNS_NXDOMAIN, Outcome.DNS_NODATA)  # what the server said, not a lost query
STABLE_TAIL_S = 2.0  # CloudFront's answers over the last seconds of the watch decide who serves at the end


@dataclass(frozen=True)
class RecordSpan:
    """From `start_s` to `end_s` (seconds since the fault) the VPC's DNS server named `names` (instance ids,
    or the address when no instance is known by it; empty: no record); `stale_s` of it named an instance
    that was already gone."""

    start_s: float
    end_s: float
    names: tuple[str, ...]
    stale_s: float

    def to_detail(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "names": list(self.names),
                "stale_s": round(self.stale_s, 3)}


def gone_times(view: Timeline, steps: Iterable[tuple[float, str]] = ()) -> dict[str, float]:
    """When each instance stopped existing: localcloud's ground truth, else when the group lost it."""
    gone: dict[str, float] = {}
    for event in view.events_of("localcloud.instance.terminated"):
        gone.setdefault(event.subject, event.at)
    for at, instance in steps:
        gone.setdefault(instance, at)
    return gone


def record_spans(view: Timeline, stack: VariantStacks, fault_at: float, addresses: Mapping[str, str],
                 gone: Mapping[str, float]) -> list[RecordSpan]:
    """The DNS probe's answers as spans of the instances they named (`addresses`: instance -> IPv6)."""
    by_address = {ipaddress.ip_address(a): i for i, a in addresses.items()}
    spans: list[RecordSpan] = []
    current: tuple[str, ...] | None = None
    start = 0.0
    samples = [s for s in view.samples_of(stack.dns_probe)
               if s.sent_at >= fault_at and s.outcome in _ANSWERED]

    def close(end: float) -> None:
        if current is None:
            return
        stale = sum(max(0.0, end - max(start, gone[n] - fault_at)) for n in current if n in gone)
        spans.append(RecordSpan(start, end, current, min(stale, end - start)))

    for sample in samples:
        names = tuple(sorted(_instance_of(a, by_address) for a in sample.answers))
        if names != current:
            close(sample.sent_at - fault_at)
            current, start = names, sample.sent_at - fault_at
    if samples:
        close(samples[-1].sent_at - fault_at)
    return spans


def _instance_of(answer: str, by_address: Mapping[Any, str]) -> str:
    value = answer.split()[-1]
    try:
        return by_address.get(ipaddress.ip_address(value), value)
    except ValueError:
        return value


@dataclass(frozen=True)
class ThrashReading:
    """Two instances alive at once, then one left: who the record named, and what CloudFront's clients saw."""

    variant: str
    newcomer: str | None
    left: tuple[str, ...]
    survivor: str | None
    named_newcomer_s: float | None  # the VPC's DNS server first named the newcomer
    lww_start_s: float | None  # last-writer-wins window: the record names one of two live instances...
    lww_end_s: float | None  # ...until only one is alive
    stale_s: float  # the record named an instance that was gone
    final_names: tuple[str, ...]
    outage_s: float  # CloudFront's clients saw no instance (every outage window)
    outage_windows: int
    fallback_samples: int
    error_samples: int
    served_by_survivor: bool  # CloudFront's last answers came from the survivor
    spans: tuple[RecordSpan, ...]

    def to_detail(self) -> dict[str, Any]:
        detail = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "spans"}
        return {"reading": "thrash", **detail, "record_spans": [s.to_detail() for s in self.spans]}


def read_thrash(view: Timeline, stack: VariantStacks, fault_at: float, failover: FailoverResult,
                newcomer: str | None, left: Sequence[tuple[float, str]], addresses: Mapping[str, str]) -> ThrashReading:
    gone = gone_times(view, left)
    spans = record_spans(view, stack, fault_at, addresses, gone)
    members = {stack.instance_id, *([newcomer] if newcomer else [])}
    departed = tuple(i for _, i in sorted(left))
    survivors = sorted(members - set(departed))
    survivor = survivors[0] if len(survivors) == 1 else None
    named = next((s.start_s for s in spans if newcomer in s.names), None)
    lww_end = min((gone[i] - fault_at for i in members if i in gone), default=None)  # one of the two went
    lww_start = named if named is not None and (lww_end is None or named < lww_end) else None
    cdn = [s for s in view.samples_of(stack.cdn_probe) if s.sent_at >= fault_at]
    bad = [s for s in cdn if not s.good]
    tail = [s for s in cdn if s.sent_at >= (cdn[-1].sent_at - STABLE_TAIL_S)] if cdn else []
    return ThrashReading(
        variant=stack.variant, newcomer=newcomer, left=departed, survivor=survivor, named_newcomer_s=named,
        lww_start_s=lww_start, lww_end_s=lww_end if lww_start is not None else None,
        stale_s=sum(s.stale_s for s in spans), final_names=spans[-1].names if spans else (),
        outage_s=sum(w.duration_s for w in failover.outage_windows), outage_windows=len(failover.outage_windows),
        fallback_samples=sum(1 for s in bad if s.outcome is Outcome.FALLBACK),
        error_samples=sum(1 for s in bad if s.outcome is not Outcome.FALLBACK),
        served_by_survivor=bool(tail) and survivor is not None and all(s.good and s.served_by == survivor
                                                                        for s in tail),
        spans=tuple(spans))


def negative_answers(view: Timeline, fault_at: float) -> list[Event]:
    """CloudFront's own lookups of the origin name that found no address (and were cached, if ttl_s > 0)."""
    return [e for e in view.events_of("localcloud.cloudfront.origin_dns")
            if e.at >= fault_at and not e.detail.get("addresses")]
