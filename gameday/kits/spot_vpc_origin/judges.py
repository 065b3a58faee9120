"""spot-vpc-origin's judges: one variant's reading out of the shared run, checked against the phases that must
happen, the model (fast profile) and the budget. Every message says what the variant's clients saw."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.errors import FaultError
from gameday.faults import CapacityThrash
from gameday.kits.spot_vpc_origin.compare import MODEL_TOLERANCE, STABLE_WINDOW_S, Case, Judged
from gameday.kits.spot_vpc_origin.compare import seconds_or_never as _s
from gameday.kits.spot_vpc_origin.deploy import CLEANUP, VariantStacks, ipv6_of
from gameday.kits.spot_vpc_origin.readings import (
    ThrashReading,
    VariantReading,
    gone_times,
    negative_answers,
    read_thrash,
    read_variant,
    record_spans,
)
from gameday.scenario import Headline, ScenarioResult, Verdict
from gameday.session import GameDay
from gameday.timeline import Event


def variant_result(case: Case) -> ScenarioResult:
    view, analysed = case.view()
    reading = read_variant(view, case.variant, case.fault_at, analysed)
    headline = Headline("served by the new instance again", reading.served_again_s) \
        if reading.served_again_s is not None else None
    return case.result(view, analysed, _judge(case, reading), headline, reading.to_detail())


def _judge(case: Case, reading: VariantReading) -> Judged:
    game, stack, prediction, budget = case.game, case.variant, case.prediction, case.budget
    clients = (f"clients saw {reading.fallback_samples} maintenance pages and {reading.error_samples} errors "
               f"over {_s(reading.outage_s)}")
    if stack.fixed_address:
        judged = _judge_fixed_address(case, reading, clients)
        if judged is not None:
            return judged
        seen = f"the interface's address reached the new instance after {_s(reading.interface_moved_s)}; {clients}"
    else:
        seen = (f"AAAA switched after {_s(reading.aaaa_switch_s)}, CloudFront after {_s(reading.edge_switch_s)}; "
                f"{clients}")
    if reading.aaaa_switch_s is None and not stack.fixed_address:
        return Verdict.FAILED, (f"{stack.variant}: {stack.origin_name} never stopped naming the interrupted instance: "
                                f"phase 'record follows the instance' never happened; {seen}")
    if reading.served_again_s is None:
        return Verdict.FAILED, (f"{stack.variant}: CloudFront never served from the new instance again (stable for "
                                f"{STABLE_WINDOW_S:g} s): phase 'served again' never happened; {seen}")
    text = f"{stack.variant}: served by the new instance again after {reading.served_again_s:.2f} s; {seen}"
    if prediction is not None and game.profile.name == "fast":
        predicted = prediction.mean_s
        if abs(reading.served_again_s - predicted) > MODEL_TOLERANCE * predicted:
            return Verdict.FAILED, (f"{text}; the model says {predicted:.2f} s (+-{MODEL_TOLERANCE:.0%}): the "
                                    "measurement or localcloud is off")
    if reading.served_again_s > budget:
        return Verdict.FAILED, f"{text}, over the {budget:.1f} s budget"
    return Verdict.PASSED, f"{text} (budget {budget:.1f} s)"


def _judge_fixed_address(case: Case, reading: VariantReading, clients: str) -> Judged | None:
    """The eni variant's own phases: its record never moves, and (where ground truth shows it) the interface's
    address reaches the new instance. None: both held, judge the rest as for every variant."""
    stack = case.variant
    if reading.record_moved:
        return Verdict.FAILED, (f"{stack.variant}: {stack.origin_name} stopped naming the interface's fixed address "
                                f"{stack.ipv6}: phase 'the name never changes' never happened; {clients}")
    if reading.interface_moved_s is None and case.game.backend.control is not None:
        return Verdict.FAILED, (f"{stack.variant}: interface {stack.interface_id} never reached a new instance: phase "
                                f"'interface follows the instance' never happened; {clients}")
    return None


def thrash_watch(game: GameDay, variants: Sequence[VariantStacks]) -> float:
    """Long enough for the newcomer to launch, pass its health check and write the record, and CloudFront to
    follow; a variant may show no outage at all, so the watch cannot wait for one to end."""
    profile = game.profile
    steps = ("ec2.run_instances_api", "ec2.pending_to_running", "ec2.boot", "sns.lambda_delivery",
             "route53.change_insync")
    ttl = max(float(v.origin.parameters["RecordTtl"]) for v in variants)
    return 1.5 * (sum(profile.delay(k).high for k in steps) + ttl) + 6.0


def thrash_result(case: Case) -> ScenarioResult:
    part, stack = case.part, case.variant
    if not isinstance(part, CapacityThrash):
        raise FaultError(f"two-instances-alive judges a capacity-thrash, not {part.name}", fault=part.name)
    view, analysed = case.view(*(Event(s.at, "gameday.fault.step", "gameday", part.target,
                                       {"step": s.what, **s.detail}) for s in part.steps))
    left = [(s.at, str(s.detail["instance"])) for s in part.steps if s.what == "left"]
    reading = read_thrash(view, stack, case.fault_at, analysed, part.newcomer, left,
                          {stack.instance_id: stack.ipv6, **part.addresses})
    return case.result(view, analysed, _judge_thrash(case, part, reading),
                       Headline("outage seen through CloudFront", reading.outage_s), reading.to_detail())


def _judge_thrash(case: Case, part: CapacityThrash, reading: ThrashReading) -> Judged:
    stack = case.variant
    window = "none" if reading.lww_start_s is None else \
        f"+{reading.lww_start_s:.2f} to +{_s(reading.lww_end_s).removesuffix(' s')} s"
    seen = (f"newcomer {reading.newcomer or 'never healthy'}, left: {', '.join(reading.left) or 'nobody'}; the record "
            f"named the newcomer after {_s(reading.named_newcomer_s)}; last-writer-wins window {window}; it named "
            f"a gone instance for {reading.stale_s:.2f} s; clients saw {reading.outage_s:.2f} s of outage "
            f"({reading.fallback_samples} maintenance pages, {reading.error_samples} errors)")
    if part.error:
        return Verdict.FAILED, f"{stack.variant}: the fault's second step failed: {part.error}; {seen}"
    if reading.survivor is None:
        return Verdict.FAILED, f"{stack.variant}: the group did not end with one of the two instances; {seen}"
    if reading.final_names != (reading.survivor,):
        named = ", ".join(reading.final_names) or "nothing"
        return Verdict.FAILED, (f"{stack.variant}: phase 'record names the survivor' never happened: "
                                f"{stack.origin_name} ends naming {named} while {reading.survivor} serves alone "
                                f"(last writer wins); {seen}")
    if not reading.served_by_survivor:
        return Verdict.FAILED, (f"{stack.variant}: phase 'served by the survivor' never happened: CloudFront's last "
                                f"answers did not all come from {reading.survivor}; {seen}")
    return _within(case, reading.outage_s, f"{stack.variant}: {seen}")


def _within(case: Case, measured: float, text: str) -> Judged:
    """The last two checks of a range-judged variant: the model's range (fast), then the budget."""
    off = case.outside_range(measured)
    if off is not None:
        return Verdict.FAILED, f"{text}; {off}"
    if measured > case.budget:
        return Verdict.FAILED, f"{text}, over the {case.budget:.1f} s budget"
    return Verdict.PASSED, f"{text} (budget {case.budget:.1f} s)"


def cleanup_result(case: Case) -> ScenarioResult:
    stack, fault_at = case.variant, case.fault_at
    view, analysed = case.view()
    reading = read_variant(view, stack, fault_at, analysed)
    replacement = next((i for i in reading.instances if i != stack.instance_id), None)
    addresses = {stack.instance_id: stack.ipv6}
    if replacement is not None:
        addresses[replacement] = ipv6_of(case.game.backend, replacement)
    spans = record_spans(view, stack, fault_at, addresses, gone_times(view))
    outage = sum(w.duration_s for w in analysed.outage_windows)
    negative = negative_answers(view, fault_at)
    hook = [e.detail for e in view.events_of("localcloud.asg.lifecycle_complete")
            if e.at >= fault_at and e.detail.get("instance") == stack.instance_id]
    details = {**reading.to_detail(), "reading": "cleanup", "outage_total_s": round(outage, 3),
               "stale_s": round(sum(s.stale_s for s in spans), 3), "negative_answers": len(negative),
               "negative_cached_s": max((float(e.detail.get("ttl") or 0.0) for e in negative), default=0.0),
               "terminating_hook": hook[0] if hook else None, "record_spans": [s.to_detail() for s in spans]}
    seen = (f"clients saw {outage:.2f} s of outage ({reading.fallback_samples} maintenance pages, "
            f"{reading.error_samples} errors); the record named a gone instance for {details['stale_s']:.2f} s; "
            f"CloudFront found no address {len(negative)} times")
    removed_later = replacement is not None and any(
        not s.names and any(replacement in e.names for e in spans[:i]) for i, s in enumerate(spans))
    judged: Judged
    if reading.served_again_s is None:
        judged = Verdict.FAILED, (f"{stack.variant}: phase 'served again' never happened: CloudFront never served "
                                  f"from the replacement for {STABLE_WINDOW_S:g} s; {seen}")
    elif stack.variant == CLEANUP and case.game.backend.name == "localcloud" and not any(
            h.get("by") == "api" for h in hook):
        judged = Verdict.FAILED, (f"{stack.variant}: phase 'terminating hook cleaned up' never happened: the Lambda "
                                  f"never completed {stack.instance_id}'s lifecycle action "
                                  f"({hook[0].get('by') if hook else 'no action ended'}); {seen}")
    elif removed_later:
        judged = Verdict.FAILED, (f"{stack.variant}: the cleanup removed the replacement's record: "
                                  f"{stack.origin_name} named {replacement}, then nothing; {seen}")
    else:
        judged = _within(case, outage, f"{stack.variant}: served by {replacement} again after "
                                       f"{_s(reading.served_again_s)}; {seen}")
    return case.result(view, analysed, judged, Headline("outage seen through CloudFront", outage), details)
