"""What serves an instance's port, broken on purpose while the instance runs on (the control API's
`/instances/<id>/ports/<port>/hang|resume|kill`): the faults EC2's status checks cannot see.

- `hang`: the server stops answering but keeps its port (connections open, requests wait unanswered), as a
  deadlocked or stopped process does. The built-in app hangs in place (`AppState`); a server the user data
  started is stopped with SIGSTOP.
- `resume`: the inverse (the built-in app answers again; SIGCONT). Idempotent, and a no-op for an instance
  that is gone, so a revert can always run it.
- `kill`: a server the user data started is killed with SIGKILL: its port refuses from then on, as on EC2 once
  the process is gone (nothing restarts it; user data runs once). The built-in app has no process to kill.

On AWS the same needs a command on the instance (SSM Run Command, `kill -STOP`): nothing in the EC2 API does it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from typing import Any

from localcloud.ec2 import processes
from localcloud.ec2.instances import Fleet
from localcloud.events import EventLog
from localcloud.net.http import Handler, Request, Response, text

PORT_FAULT_EVENT = "localcloud.instance.port_fault"  # detail: port, action, owner, pids
ACTIONS = {"hang": signal.SIGSTOP, "resume": signal.SIGCONT, "kill": signal.SIGKILL}
_PATH = re.compile(r"/instances/(i-[0-9a-f]+)/ports/(\d{1,5})/([a-z]+)")
USAGE = "POST /instances/<instance-id>/ports/<port>/hang|resume|kill\n"


class PortFaultRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PortFaults:
    """Loop thread only (the control API's handler runs there)."""

    def __init__(self, fleet: Fleet, events: EventLog) -> None:
        self._fleet = fleet
        self._events = events

    def act(self, instance_id: str, port: int, action: str) -> dict[str, Any]:
        if action not in ACTIONS:
            raise PortFaultRefused(400, f"{action!r}: the action is hang, resume or kill")
        address, phase = self._fleet.address_of(instance_id), self._fleet.phase_of(instance_id)
        if address is None or phase in ("stopped", "terminated"):
            if action == "resume":  # nothing left hung: the instance took its processes with it
                return {"instance": instance_id, "port": port, "action": action, "owner": None, "pids": [],
                        "note": f"instance {phase or 'unknown'}: nothing to resume"}
            raise PortFaultRefused(404, f"no running instance {instance_id}")
        app = self._fleet.app_of(instance_id) if port == self._fleet.app_port else None
        if app is not None:
            return self._builtin(instance_id, port, action, app)
        pids = processes.listeners(address, port)
        if not pids:
            if action == "resume":
                return {"instance": instance_id, "port": port, "action": action, "owner": None, "pids": []}
            raise PortFaultRefused(409, f"nothing listens on {address}:{port} of {instance_id}")
        if action == "kill":  # all of the server: a master would start a new worker, or live on without one
            pids = processes.server_tree(pids)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, ACTIONS[action])
        return self._done(instance_id, port, action, "process", pids)

    def _builtin(self, instance_id: str, port: int, action: str, app: Any) -> dict[str, Any]:
        if action == "kill":
            raise PortFaultRefused(400, f"{instance_id}:{port} is localcloud's built-in app: it has no process to "
                                        "kill (hang it instead)")
        if action == "hang":
            app.hang()
        else:
            app.resume()
        return self._done(instance_id, port, action, "localcloud", [])

    def _done(self, instance_id: str, port: int, action: str, owner: str, pids: list[int]) -> dict[str, Any]:
        self._events.emit(PORT_FAULT_EVENT, instance_id, port=port, action=action, owner=owner, pids=pids)
        return {"instance": instance_id, "port": port, "action": action, "owner": owner, "pids": pids}


def port_faults_control(faults: PortFaults) -> Handler:
    def handle(request: Request) -> Response:
        if request.method != "POST":
            return text(405, USAGE)
        matched = _PATH.fullmatch(request.path)
        if matched is None:
            return text(404, USAGE)
        instance_id, port, action = matched.group(1), int(matched.group(2)), matched.group(3)
        try:
            done = faults.act(instance_id, port, action)
        except PortFaultRefused as refused:
            return text(refused.status, f"{refused}\n")
        return Response(200, json.dumps(done).encode(), content_type="application/json")

    return handle
