"""The lifecycle notification Auto Scaling sends to a hook's target (SNS topic or SQS queue)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from localcloud.lifecycle.actions import Action

log = logging.getLogger(__name__)


def lifecycle_message(action: Action, account_id: str, transition: str, now: datetime | None = None) -> dict[str, Any]:
    """The JSON document AWS publishes when an instance enters the hook's wait state."""
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    message = {
        "Origin": "EC2", "Destination": "AutoScalingGroup", "LifecycleHookName": action.hook_name,
        "AccountId": account_id, "RequestId": str(uuid.uuid4()), "LifecycleTransition": transition,
        "AutoScalingGroupName": action.group, "Service": "AWS Auto Scaling", "Time": at,
        "EC2InstanceId": action.instance_id, "LifecycleActionToken": action.token,
    }
    metadata = getattr(action.hook, "notification_metadata", None)
    if metadata:
        message["NotificationMetadata"] = metadata
    return message


def publish(action: Action, transition: str) -> None:
    """Send the notification to the hook's target; an unknown target is logged, as AWS would fail to deliver."""
    target = str(action.hook.notification_target_arn)
    parts = target.split(":")
    if len(parts) < 6:
        log.warning("lifecycle hook %s: bad notification target %r", action.hook_name, target)
        return
    service, region, account = parts[2], parts[3], parts[4]
    body = json.dumps(lifecycle_message(action, account, transition))
    short = transition.rsplit("_", 1)[-1]
    subject = f"Auto Scaling:  Lifecycle action '{short}' for instance {action.instance_id} in progress."
    try:
        if service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[account][region].publish(body, arn=target, subject=subject)
        elif service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[account][region].send_message(parts[5], body)
        else:
            log.warning("lifecycle hook %s: unsupported notification target %s", action.hook_name, target)
    except Exception as exc:
        log.warning("lifecycle notification to %s failed: %s", target, exc)
