"""eip-self-healing with its data on a second EBS volume (the write-up's reliability advice; DataVolume=true).

Before the fault a marker file is written through the service (`PUT <ServiceUrl>data/<marker>`); a probe reads it
back all along (`http:data`). *terminate-instance-with-data*: the group's replacement attaches the volume and the
marker is served again; the time until then is reported next to the failover time. *zone-lost*: the instance's
zone becomes unavailable. The volume cannot leave its zone (EBS is zonal), and the group, pinned to that zone so
that every instance can attach it, has nowhere else to launch: the finding is reported in words ("data stranded
in <zone>"), never tuned into a pass.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gameday.analysis import FailoverResult, analyze
from gameday.backends.base import Backend, public_resolvers
from gameday.faults import Fault, TerminateInstance, ZoneLost
from gameday.kits.eip_self_healing import model
from gameday.kits.eip_self_healing.scenarios import INSTANCE_IDENTITY, PRIMARY, RATE_HZ, STACK, name_probes, probes
from gameday.kits.kit import Deployment, FaultSpec, ScenarioSpec
from gameday.probes import DnsProbe, HttpProbe
from gameday.scenario import FailoverRun, Judgement, ScenarioResult, Verdict, WatchPolicy, steady_timeout
from gameday.session import GameDay
from gameday.stopconditions import StopSpec
from gameday.timeline import Event

DATA_PROBE = "http:data"
_WRITE_RETRY_S = 0.5
_HTTP_TIMEOUT_S = 2.0
CAPACITY_ERROR = "localcloud.ec2.capacity_error"
INSTANCE_PENDING = "localcloud.instance.pending"


@dataclass(frozen=True)
class Marker:
    """A file the app keeps on its data volume, written before the fault and read back after it."""

    url: str
    body: bytes

    @classmethod
    def for_run(cls, service_url: str, run_id: str) -> Marker:
        name = f"gameday-{run_id}-{secrets.token_hex(4)}".lower()
        return cls(f"{service_url.rstrip('/')}/data/{name}", f"written by game day {run_id}\n".encode())

    @property
    def name(self) -> str:
        return self.url.rpartition("/")[2]

    def write(self, within_s: float) -> str | None:
        """PUT the marker until the app stores it (the stack may still be starting); None, or why it could not."""
        deadline = time.monotonic() + within_s
        why = "no attempt"
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(self.url, data=self.body, method="PUT")
                with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_S) as answer:
                    if answer.status in (200, 201, 204):
                        return None
                    why = f"HTTP {answer.status}"
            except urllib.error.HTTPError as exc:
                why = f"HTTP {exc.code} {exc.read().decode(errors='replace').strip()}"
            except OSError as exc:
                why = str(exc)
            time.sleep(_WRITE_RETRY_S)
        return why

    def read_back(self) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url, timeout=_HTTP_TIMEOUT_S) as answer:
                return bytes(answer.read())
        except OSError:
            return None


@dataclass(frozen=True)
class DataVolume:
    """The deployment's data volume, from its outputs."""

    volume_id: str
    zone: str

    @classmethod
    def of(cls, deployment: Deployment) -> DataVolume:
        return cls(deployment.output("DataVolumeId"), deployment.output("DataZone"))


def terminate_web_instance(backend: Backend, deployment: Deployment) -> Fault:
    return TerminateInstance(backend, deployment.output("AutoScalingGroupName"))


def lose_data_zone(backend: Backend, deployment: Deployment) -> Fault:
    return ZoneLost(backend, deployment.output("DataZone"), within=deployment.output("AutoScalingGroupName"))


def _probes(game: GameDay, deployment: Deployment, marker: Marker) -> list[HttpProbe | DnsProbe]:
    found = probes(deployment.main, public_resolvers(game.backend.resolvers()))
    found.append(HttpProbe(DATA_PROBE, marker.url, rate_hz=RATE_HZ / 2, timeout_s=0.5,
                           expect_identity=INSTANCE_IDENTITY))
    return found


def _play(game: GameDay, deployment: Deployment, spec: ScenarioSpec,
          judge: Callable[[Marker, DataVolume], Callable[[FailoverRun, FailoverResult, float], Judgement]],
          policy: Callable[[float], WatchPolicy | None]) -> list[ScenarioResult]:
    """Write the marker, then play the fault with the data probe in the steady state and the judge's reading."""
    stack = deployment.main
    volume = DataVolume.of(deployment)
    marker = Marker.for_run(stack.output("ServiceUrl"), game.paths.run_id)
    # Not written: the data probe never gets steady, and the steady state's failure names it.
    marker.write(steady_timeout(game.profile))
    found = _probes(game, deployment, marker)
    budget = game.budget(STACK, spec.budget_key, spec.name)
    return [game.run(
        stack_id=STACK, scenario=spec.name, fault=spec.faults[0].build(game.backend, deployment), probes=found,
        primary_probe=PRIMARY, steady_probes=[DATA_PROBE],
        ready_probes=name_probes(found),
        budget_key=spec.budget_key, prediction=spec.predict(game.profile, stack) if spec.predict else None,
        stop=spec.stop, judge=judge(marker, volume), policy=policy(budget),
        load=game.load_for(stack.output("ServiceUrl"), spec.name))]


# --- terminate-instance-with-data ---

def data_served_again(marker: Marker, volume: DataVolume) -> Callable[[FailoverRun, FailoverResult, float], Judgement]:
    """The failover time (the address serves again) and, beside it, the time until the marker is served again."""
    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        data = analyze(run.timeline, fault_at=fault_at, probe=DATA_PROBE, stable_window_s=run.policy.stable_window_s)
        where = f"marker {marker.name} on {volume.volume_id} ({volume.zone})"
        if failover.failover_time_s is None:
            return Judgement(Verdict.FAILED, f"no recovery within {run.policy.watch_timeout_s:.0f} s of the fault: "
                                             f"{PRIMARY} never served steadily again; {where} not read back")
        served = failover.failover_time_s
        if data.failover_time_s is None:
            return Judgement(Verdict.FAILED, f"failover {served:.2f} s, but the data was never served again: "
                                             f"{where} not read back within {run.policy.watch_timeout_s:.0f} s")
        read = marker.read_back()
        data_s = data.failover_time_s
        both = f"failover {served:.2f} s; data served again {data_s:.2f} s after the fault ({where}"
        if read != marker.body:
            return Judgement(Verdict.FAILED, f"{both}), but reading it back gave {read!r}, not what was written")
        if max(served, data_s) > run.budget_s:
            return Judgement(Verdict.FAILED, f"{both}, read back intact): over the {run.budget_s:.1f} s budget")
        return Judgement(Verdict.PASSED, f"{both}, read back intact), within the {run.budget_s:.1f} s budget")
    return judge


def run_terminate_with_data(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    return _play(game, deployment, spec, data_served_again, lambda budget: None)


# --- zone-lost ---

def _after(run: FailoverRun, fault_at: float, kind: str) -> list[Event]:
    return [e for e in run.timeline.snapshot()[1] if e.kind == kind and e.at >= fault_at]


def stranded(marker: Marker, volume: DataVolume) -> Callable[[FailoverRun, FailoverResult, float], Judgement]:
    """What the architecture did with its zone gone, in words; it cannot take its data to another zone."""
    def judge(run: FailoverRun, failover: FailoverResult, fault_at: float) -> Judgement:
        data = analyze(run.timeline, fault_at=fault_at, probe=DATA_PROBE, stable_window_s=run.policy.stable_window_s)
        watched = f"{run.policy.watch_timeout_s:.0f} s"
        finding = (f"data stranded in {volume.zone} ({volume.volume_id}, marker {marker.name}): an EBS volume cannot "
                   f"leave its zone, so this architecture cannot survive the loss of its zone with its data")
        elsewhere = sorted({str(e.detail.get("availability_zone")) for e in _after(run, fault_at, INSTANCE_PENDING)
                            if e.detail.get("availability_zone") not in (None, volume.zone)})
        refused = len(_after(run, fault_at, CAPACITY_ERROR))
        if failover.failover_time_s is not None and data.failover_time_s is not None:
            return Judgement(Verdict.FAILED if failover.failover_time_s > run.budget_s else Verdict.PASSED,
                             f"{volume.zone} lost, yet the service and its data were back after "
                             f"{failover.failover_time_s:.2f} s and {data.failover_time_s:.2f} s (the zone came back?)")
        if failover.failover_time_s is not None:
            return Judgement(Verdict.FAILED, f"{volume.zone} lost: the replacement serves again after "
                                             f"{failover.failover_time_s:.2f} s, but without its data; {finding}")
        if elsewhere:
            how = (f"the group launched a replacement in {', '.join(elsewhere)}, where the volume cannot be attached "
                   f"(InvalidVolume.ZoneMismatch), so its user data never claimed the address")
        elif refused:
            how = (f"the group, pinned to {volume.zone} so that each instance can attach the volume, had no other zone "
                   f"to launch in: {refused} launch attempts refused (InsufficientInstanceCapacity), no replacement")
        else:
            how = "no replacement was launched"
        return Judgement(Verdict.FAILED, f"{volume.zone} lost: {how}; the address served nothing for the whole "
                                         f"{watched} watch; {finding}")
    return judge


def run_zone_lost(game: GameDay, deployment: Deployment, spec: ScenarioSpec) -> list[ScenarioResult]:
    """Watched as long as a replacement in another zone would have needed (the budget) and a margin, not three
    times that: nothing comes back while the zone is gone."""
    def policy(budget: float) -> WatchPolicy:
        return WatchPolicy(watch_timeout_s=budget + 30.0, steady_timeout_s=steady_timeout(game.profile))
    return _play(game, deployment, spec, stranded, policy)


DATA_SCENARIOS: Sequence[ScenarioSpec] = (
    ScenarioSpec(
        f"{STACK}/terminate-instance-with-data", STACK,
        "write a marker to the app's data volume, terminate the instance; the replacement attaches the volume "
        "(same zone) and serves the marker again: time until the data is served next to the failover time",
        (FaultSpec("terminate-instance",
                   "the InService instance of the stack's Auto Scaling group (output AutoScalingGroupName)",
                   "the group's min/max/desired back as they were (the group itself replaces the instance)",
                   terminate_web_instance),),
        run_terminate_with_data, StopSpec(probe=PRIMARY, floor=0.5), extended=True,
        predict=model.terminate_instance, budget="terminate-instance-with-data"),
    ScenarioSpec(
        f"{STACK}/zone-lost", STACK,
        "the data volume's zone becomes unavailable: the instance goes down, the group (pinned to that zone) "
        "cannot launch a replacement elsewhere with the data; the finding says where the data is stranded",
        (FaultSpec("zone-lost", "the availability zone of the data volume and the group (output DataZone)",
                   "the zone available again (the group launches there again)", lose_data_zone),),
        run_zone_lost, extended=True, budget="zone-lost", backends=("localcloud",),
        backend_note="AWS has no fault action that takes an availability zone away (FIS's AZ power interruption "
                     "is a composite of actions on your own resources)"),
)
