"""Ground truth: an append-only, thread-safe log of what localcloud really did, each with a sequence number.

Probes see the system from outside; this log says what happened inside (an instance booted, an
address started to route) so a report can put the two side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INSTANCE_PENDING = "localcloud.instance.pending"
INSTANCE_RUNNING = "localcloud.instance.running"
INSTANCE_BOOTED = "localcloud.instance.booted"
INSTANCE_STOPPED = "localcloud.instance.stopped"
INSTANCE_TERMINATED = "localcloud.instance.terminated"
USERDATA_START = "localcloud.userdata.start"
USERDATA_EXIT = "localcloud.userdata.exit"
EIP_ALLOCATED = "localcloud.eip.allocated"
EIP_ASSOCIATED = "localcloud.eip.associated"
EIP_DISASSOCIATED = "localcloud.eip.disassociated"
EIP_RELEASED = "localcloud.eip.released"
EIP_ROUTED = "localcloud.eip.routed"
EIP_UNROUTED = "localcloud.eip.unrouted"
ENI_CREATED = "localcloud.eni.created"  # a network interface of its own (not an instance's primary one)
ENI_ATTACHED = "localcloud.eni.attached"  # AttachNetworkInterface: the interface's address routes after a delay
ENI_DETACHED = "localcloud.eni.detached"  # DetachNetworkInterface, or its instance terminated (reason)
ENI_ROUTED = "localcloud.eni.routed"  # traffic to the interface's address reaches the instance
ENI_UNROUTED = "localcloud.eni.unrouted"
ASG_UNHEALTHY = "localcloud.asg.unhealthy"
ASG_LAUNCH = "localcloud.asg.launch"
ASG_LAUNCH_ABANDONED = "localcloud.asg.launch_abandoned"
ASG_TERMINATE = "localcloud.asg.terminate"  # the group terminates a member (cause: scale-in, unhealthy, …)
CAPACITY_ERROR = "localcloud.ec2.capacity_error"
SPOT_FULFILLED = "localcloud.spot.fulfilled"
SPOT_REBALANCE = "localcloud.spot.rebalance"
SPOT_INTERRUPTION_NOTICE = "localcloud.spot.interruption_notice"
SPOT_INTERRUPTED = "localcloud.spot.interrupted"
ASG_LIFECYCLE_WAIT = "localcloud.asg.lifecycle_wait"
ASG_LIFECYCLE_HEARTBEAT = "localcloud.asg.lifecycle_heartbeat"
ASG_LIFECYCLE_COMPLETE = "localcloud.asg.lifecycle_complete"
LAMBDA_INVOKE = "localcloud.lambda.invoke"
LAMBDA_RESULT = "localcloud.lambda.result"
IAM_DENIED = "localcloud.iam.denied"  # a role's session was refused a call (principal, action, resource, reason)


@dataclass(frozen=True)
class CloudEvent:
    seq: int
    at: float  # epoch seconds
    kind: str  # dotted, always "localcloud.…"
    subject: str = ""  # instance id, address, …
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "kind": self.kind, "subject": self.subject,
                "detail": dict(self.detail)}


class EventLog:
    """Events in the order they were recorded; `seq` counts from 0 with no gaps."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._events: list[CloudEvent] = []
        self._changed = threading.Condition()

    def emit(self, kind: str, subject: str = "", **detail: Any) -> CloudEvent:
        with self._changed:
            event = CloudEvent(len(self._events), self._now(), kind, subject, detail)
            self._events.append(event)
            self._changed.notify_all()
        return event

    def record(self, kind: str, subject: str, detail: Mapping[str, Any]) -> None:
        """`emit` in the (kind, subject, detail) shape other parts use as their event sink."""
        self.emit(kind, subject, **detail)

    def since(self, seq: int = 0, limit: int | None = None) -> tuple[list[CloudEvent], int]:
        """Events with sequence number >= `seq` (at most `limit`), and the `seq` to ask for next."""
        with self._changed:
            start = max(0, seq)
            stop = len(self._events) if limit is None else min(len(self._events), start + limit)
            found = self._events[start:stop]
        return found, (found[-1].seq + 1 if found else max(start, 0))

    def find(self, kind: str, subject: str | None = None, since: int = 0) -> list[CloudEvent]:
        with self._changed:
            return [e for e in self._events[since:]
                    if e.kind == kind and (subject is None or e.subject == subject)]

    def wait_for(self, kind: str, subject: str | None = None, *, since: int = 0,
                 timeout: float = 30.0, where: Callable[[CloudEvent], bool] | None = None) -> CloudEvent:
        """The first event of `kind` (and `subject`, and `where`) at or after `since`; waits up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events[since:]:
                    if event.kind == kind and subject in (None, event.subject) and (where is None or where(event)):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {kind} event{f' for {subject}' if subject else ''} "
                                       f"within {timeout:.1f} s")
                self._changed.wait(remaining)

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)
