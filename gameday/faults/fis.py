"""Faults injected through AWS FIS: one action on exact targets, as an experiment template that is started and
waited on until it runs; the revert stops every experiment of the fault (found again by its fault token, so
it needs nothing but the journal) and deletes its templates.

FIS assumes a role to act: `--fis-role-arn` on AWS. Against an endpoint on loopback (localcloud standing
in for an account, which enforces no IAM) a placeholder role is enough.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

from gameday.backends.base import Backend
from gameday.clock import Clock
from gameday.errors import ConfigError, FaultError
from gameday.faults.plan import TOKEN_TAG, RevertAction

log = logging.getLogger(__name__)

STOP_KIND = "fis.stop-experiments"
ENDED = frozenset({"completed", "stopped", "failed", "cancelled"})
PLACEHOLDER_ROLE = "arn:aws:iam::{account}:role/gameday-fis"
START_TIMEOUT_S = 120.0  # FIS takes seconds to initiate; a minute or two means it is stuck
STOP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class FisAction:
    """One FIS action on resources named by ARN."""

    action_id: str
    target_key: str  # the action's name for its target: "SpotInstances", "AutoScalingGroups"
    resource_type: str  # "aws:ec2:spot-instance", "aws:ec2:autoscaling-group"
    resource_arns: tuple[str, ...]
    parameters: Mapping[str, str]

    def template(self, fault: str, token: str, role_arn: str) -> dict[str, Any]:
        """The input of CreateExperimentTemplate: no stop condition (gameday's own stop conditions watch)."""
        return {
            "clientToken": token, "description": f"gameday fault {fault}"[:512], "roleArn": role_arn,
            "stopConditions": [{"source": "none"}],
            "targets": {"Targets": {"resourceType": self.resource_type, "resourceArns": list(self.resource_arns),
                                    "selectionMode": "ALL"}},
            "actions": {"Fault": {"actionId": self.action_id, "targets": {self.target_key: "Targets"},
                                  **({"parameters": dict(self.parameters)} if self.parameters else {})}},
            "tags": {TOKEN_TAG: token, "gameday:fault": fault},
        }


def fis_role(backend: Backend, fault: str) -> str:
    """The role FIS assumes: --fis-role-arn; on loopback (localcloud) a placeholder; else a refusal."""
    # The aws backend's options carry it; the seam has no FIS capability of its own.
    role = getattr(getattr(backend, "options", None), "fis_role_arn", None)
    if role:
        return str(role)
    if not _on_loopback(backend.client("fis").meta.endpoint_url):
        raise ConfigError(f"{fault} runs through AWS FIS, which needs a role it may assume: pass --fis-role-arn")
    account = backend.client("sts").get_caller_identity()["Account"]
    return PLACEHOLDER_ROLE.format(account=account)


def _on_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def stop_revert(token: str) -> dict[str, Any]:
    """The composite part that stops the fault's experiments (run first: composite reverts go last first)."""
    return {"kind": STOP_KIND, "params": {"token": token}}


def composite(parts: list[dict[str, Any]], description: str) -> RevertAction:
    return RevertAction("composite", {"reverts": parts}, description)


def start(backend: Backend, fault: str, token: str, action: FisAction, role_arn: str, clock: Clock) -> str:
    """Create the template, start the experiment, wait until it runs; its id. A failed start is a FaultError with
    FIS's reason."""
    fis = backend.client("fis")
    template = fis.create_experiment_template(**action.template(fault, token, role_arn))["experimentTemplate"]
    experiment = fis.start_experiment(clientToken=token, experimentTemplateId=template["id"],
                                      tags={TOKEN_TAG: token})["experiment"]
    state = _wait(fis, str(experiment["id"]), clock, START_TIMEOUT_S, until={"running", *ENDED})
    if state["status"] not in ("running", "completed"):
        raise FaultError(f"FIS experiment {experiment['id']} ({action.action_id}) is {state['status']}: "
                         f"{state.get('reason', '')}", fault=fault)
    log.info("FIS experiment %s (%s) %s", experiment["id"], action.action_id, state["status"])
    return str(experiment["id"])


def stop_fis_experiments(backend: Backend, params: Mapping[str, Any]) -> None:
    """Stop the experiments tagged with the fault's token and wait until they have ended; delete its templates.
    Idempotent: ended experiments and deleted templates are left alone."""
    fis, token = backend.client("fis"), str(params["token"])
    for summary in _listed(fis, "list_experiments", "experiments"):
        if (summary.get("tags") or {}).get(TOKEN_TAG) != token:
            continue
        if summary["state"]["status"] not in ENDED:
            fis.stop_experiment(id=summary["id"])
            _wait(fis, str(summary["id"]), None, STOP_TIMEOUT_S, until=ENDED)
    for template in _listed(fis, "list_experiment_templates", "experimentTemplates"):
        if (template.get("tags") or {}).get(TOKEN_TAG) == token:
            fis.delete_experiment_template(id=template["id"])


def _wait(fis: Any, experiment_id: str, clock: Clock | None, timeout_s: float, *, until: set[str] | frozenset[str]
          ) -> dict[str, Any]:
    def state() -> dict[str, Any]:
        return dict(fis.get_experiment(id=experiment_id)["experiment"]["state"])

    timing: dict[str, Any] = {"stop": stop_after_delay(timeout_s)}
    if clock is not None:  # on the injected clock: a fake one ends the wait without sleeping
        started = clock.monotonic()
        timing = {"sleep": clock.sleep, "stop": lambda _: clock.monotonic() - started >= timeout_s}
    waiting = Retrying(retry=retry_if_result(lambda s: s["status"] not in until), wait=wait_fixed(0.25),
                       retry_error_callback=_last_result, **timing)
    found: dict[str, Any] = waiting(state)
    if found["status"] not in until:
        raise FaultError(f"FIS experiment {experiment_id} still {found['status']} after {timeout_s:.0f} s")
    return found


def _last_result(attempt: RetryCallState) -> Any:
    """Out of time: the last state read, for the caller to judge (not tenacity's RetryError)."""
    assert attempt.outcome is not None
    return attempt.outcome.result()


def _listed(fis: Any, operation: str, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in fis.get_paginator(operation).paginate():
        found += page[key]
    return found
