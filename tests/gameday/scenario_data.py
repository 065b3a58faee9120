"""Synthetic scenario results for the report and model tests: a fake clock writes the samples and the
ground-truth events of one eip-like failover; nothing sleeps and nothing is deployed."""

from __future__ import annotations

from typing import Any

from gameday.analysis import analyze
from gameday.clock import FakeClock
from gameday.model import PredictedPhase, Prediction
from gameday.scenario import ScenarioResult
from gameday.timeline import Event, Outcome, Sample, Timeline

RATE_HZ = 10.0
FAULT_S = 5.0  # the fault, seconds after the timeline starts


def prediction(detection_s: float = 6.5) -> Prediction:
    return Prediction("eip-self-healing", "terminate-instance", "fast", (
        PredictedPhase("detection", detection_s, detection_s, detection_s, "asg.detect_not_running", "detection"),
        PredictedPhase("launch", 0.6, 0.6, 0.6, "ec2.run_instances_api", "control_plane"),
        PredictedPhase("pending", 2.3, 2.3, 2.3, "ec2.pending_to_running"),
        PredictedPhase("boot", 3.3, 3.3, 3.3, "ec2.boot", "booted"),
        PredictedPhase("association", 0.8, 0.8, 0.8, "eip.associate_to_traffic", "routed"),
    ))


def scenario(*, detection_s: float = 6.5, user_data_s: float = 0.7, budget_s: float = 20.0,
             predicted_detection_s: float | None = None, start_at: float = 1_000.0,
             with_dns: bool = True, with_load: bool = False) -> ScenarioResult:
    """Detection, launch +0.6, boot +5.6, user data, association +0.8, then serving for 4 s."""
    clock = FakeClock(start_at=start_at)
    timeline = Timeline.begin("synthetic", clock)
    fault_at = start_at + FAULT_S
    marks = {"detection": detection_s}
    marks["control_plane"] = marks["detection"] + 0.6
    marks["booted"] = marks["control_plane"] + 5.6
    marks["userdata_exit"] = marks["booted"] + user_data_s
    marks["routed"] = marks["userdata_exit"] + 0.8
    end = fault_at + marks["routed"] + 4.0
    kinds = {"detection": "localcloud.asg.unhealthy", "control_plane": "localcloud.asg.launch",
             "booted": "localcloud.instance.booted", "routed": "localcloud.eip.routed"}
    timeline.add_event(Event(fault_at, "fault.inject", "gameday", "i-1", {}))
    for name, kind in kinds.items():
        timeline.add_event(Event(fault_at + marks[name], kind, "localcloud", "i-2", {}))
    timeline.add_event(Event(fault_at + marks["booted"], "localcloud.userdata.start", "localcloud", "i-2", {}))
    timeline.add_event(Event(fault_at + marks["userdata_exit"], "localcloud.userdata.exit", "localcloud", "i-2", {}))
    probes = [("http:eip", "http"), *([("dns:caching", "dns")] if with_dns else []),
              *([("load:GET", "load")] if with_load else [])]
    for probe, kind in probes:
        for seq in range(int((end - start_at) * RATE_HZ)):
            sent_at = start_at + seq / RATE_HZ
            down = fault_at <= sent_at < fault_at + marks["routed"] and kind in ("http", "load")
            timeline.add_sample(Sample(
                probe=probe, kind=kind, target="t", seq=seq, scheduled_mono=seq / RATE_HZ, sent_mono=seq / RATE_HZ,
                sent_at=sent_at, outcome=Outcome.CONNECT_TIMEOUT if down else Outcome.OK,
                latency_s=None if down else 0.01, status=None if down or kind == "dns" else 200,
                answers=("127.1.0.9",) if kind == "dns" else (), served_by=None if down else "i-x"))
    failover = analyze(timeline, fault_at=fault_at, probe="http:eip", stable_window_s=2.0)
    measured = failover.failover_time_s
    assert measured is not None
    verdict = "passed" if measured <= budget_s else "failed"
    return ScenarioResult("eip-self-healing", "terminate-instance", "terminate-instance", "i-1", "localcloud",
                          "fast", budget_s, fault_at, failover,
                          prediction(predicted_detection_s if predicted_detection_s is not None else detection_s),
                          verdict, f"failover {measured:.2f} s", timeline)


class OfflineBackend:
    """A backend for scenarios against scripted loopback servers: loopback probes allowed, no AWS call, no
    resolvers and no ground truth."""

    name = "localcloud"
    profile = "fast"
    region = "us-east-1"
    endpoint_url = None
    control = None

    def client(self, service: str, region: str | None = None) -> Any:
        raise AssertionError("no AWS call expected")

    def resolvers(self) -> list[Any]:
        return []

    def ground_truth(self, since: float = 0.0) -> list[Any]:
        return []

    def close(self) -> None:
        pass
