"""Causes named from ground truth: which instance's bootstrap died and what it printed, a denied call, a Lambda
that failed, a lifecycle action nobody completed; only the stacks' own subjects, fatal ones first."""

from __future__ import annotations

from typing import Any

import pytest

from gameday.diagnosis import (
    IAM_DENIED,
    LAMBDA_RESULT,
    LIFECYCLE_COMPLETE,
    LIFECYCLE_WAIT,
    USERDATA_EXIT,
    Cause,
    Subjects,
    _event_causes,
    error_line,
    summarize,
)
from gameday.timeline import Event

SUBJECTS = Subjects({"i-web": "web-group", "i-lone": ""}, frozenset({"follower"}), (), {})
DENIED = ("User: arn:aws:sts::123456789012:assumed-role/web/i-web is not authorized to perform: "
          "ec2:AssociateAddress on resource: arn:aws:ec2:us-east-1:123456789012:elastic-ip/eipalloc-1 because no "
          "identity-based policy allows the ec2:AssociateAddress action")


def event(kind: str, subject: str, **detail: Any) -> Event:
    return Event(at=1.0, kind=kind, source="localcloud", subject=subject, detail=detail)


def test_a_failed_bootstrap_names_the_instance_its_group_exit_status_and_error_line() -> None:
    tail = f"+ aws ec2 associate-address\n\nAn error occurred (UnauthorizedOperation): {DENIED}\n+ exit 255\n"
    [cause] = _event_causes([event(USERDATA_EXIT, "i-web", reason="failed", code=255, duration_s=0.42, tail=tail),
                             event(IAM_DENIED, "i-web", message=DENIED)], SUBJECTS)

    assert cause.fatal  # nothing re-runs a user data: the stack cannot get there by itself
    assert cause.text == (f"i-web (group web-group): its user data exited 255 after 0.4 s; it printed: "
                          f"An error occurred (UnauthorizedOperation): {DENIED}")  # the denial is not told twice


def test_a_bootstrap_that_hung_and_one_that_printed_nothing() -> None:
    causes = _event_causes([event(USERDATA_EXIT, "i-lone", reason="timeout", code=None, duration_s=600.0,
                                  tail="waiting for the volume\n"),
                            event(USERDATA_EXIT, "i-web", reason="failed", code=1, duration_s=0.0, tail="")],
                           SUBJECTS)

    assert [c.text for c in causes] == [
        "i-lone: its user data did not finish (killed after 600 s); it printed: waiting for the volume",
        "i-web (group web-group): its user data exited 1 after 0.0 s and printed nothing"]


def test_only_the_last_run_of_an_instance_counts_and_other_stacks_are_not_named() -> None:
    causes = _event_causes([event(USERDATA_EXIT, "i-web", reason="failed", code=1, duration_s=1.0, tail="boom"),
                            event(USERDATA_EXIT, "i-web", reason="ok", code=0, duration_s=1.0, tail="done"),
                            event(USERDATA_EXIT, "i-other-stack", reason="failed", code=2, duration_s=1.0, tail="x"),
                            event(IAM_DENIED, "i-other-stack", message=DENIED)], SUBJECTS)

    assert causes == []


def test_a_lambda_error_a_denied_call_and_a_lifecycle_action_nobody_completed() -> None:
    causes = _event_causes([
        event(LAMBDA_RESULT, "follower", error="Unhandled", log="Traceback (most recent call last):\n"
              "KeyError: 'RECORD_NAME'\nEND RequestId: 1\n"),
        event(IAM_DENIED, "follower", message="User: … is not authorized to perform: route53:GetChange"),
        event(LIFECYCLE_WAIT, "i-web", hook="launching", transition="autoscaling:EC2_INSTANCE_LAUNCHING",
              token="t1", timeout_s=90),
        event(LIFECYCLE_WAIT, "i-lone", hook="launching", transition="autoscaling:EC2_INSTANCE_LAUNCHING",
              token="t2", timeout_s=90),
        event(LIFECYCLE_COMPLETE, "i-lone", hook="launching", token="t2", by="timeout", result="ABANDON"),
    ], SUBJECTS)

    assert [c.fatal for c in causes] == [False, False, False, False]
    assert [c.text for c in causes] == [
        "follower: access denied: User: … is not authorized to perform: route53:GetChange",
        "Lambda follower failed (Unhandled): KeyError: 'RECORD_NAME'",
        "i-web waits on lifecycle hook launching (autoscaling:EC2_INSTANCE_LAUNCHING): nothing has called "
        "CompleteLifecycleAction (the hook times out after 90 s)",
        "i-lone's lifecycle hook launching ended by timeout with ABANDON: nothing called CompleteLifecycleAction"]


@pytest.mark.parametrize(("output", "line"), [
    ("starting\nAn error occurred (AccessDenied) when calling X\nbye\n",
     "An error occurred (AccessDenied) when calling X"),
    ("one\ntwo\n\n", "two"),  # no error word: the last line said
    ("", ""),
    (f"Error: {DENIED}. Encoded authorization failure message: AbCdEf123-_xyz\n", f"Error: {DENIED}."),
])
def test_the_error_line_of_a_console(output: str, line: str) -> None:
    assert error_line(output) == line


def test_summarize_puts_fatal_causes_first_and_counts_the_rest() -> None:
    causes = [Cause("a"), Cause("b", fatal=True), Cause("c"), Cause("d"), Cause("a"), Cause("e")]

    assert summarize(causes) == "b; a; c (and 2 more)"  # the repeated one counted once
