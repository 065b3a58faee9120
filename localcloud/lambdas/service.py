"""Lambda for real in localcloud: `lambda invoke` and SNS deliveries to `lambda` subscriptions run the handler.

moto's LambdaFunction.invoke (Docker, or an echo) is replaced by the runtime: RequestResponse runs
the handler on the API request's thread and answers with its result; Event and DryRun answer at once
(202, 204), Event running it in the background. An SNS publish to a topic with a `lambda`
subscription delivers, after `sns.lambda_delivery`, the event Lambda gets from SNS, without holding
moto's request thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.lambdas.runtime import FunctionCode, LambdaRuntime, RuntimeConfig
from localcloud.patching import Patches

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger(__name__)

DELIVERY_DELAY = "sns.lambda_delivery"
LOG_TAIL_BYTES = 4096  # what `--log-type Tail` returns, as Lambda does


def sns_event(subscription_arn: str, topic_arn: str, message_id: str, message: str, subject: str | None,
              attributes: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The event a Lambda function receives from an SNS subscription."""
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn,
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn, "Subject": subject,
                "Message": message, "Timestamp": at, "SignatureVersion": "1", "Signature": "localcloud",
                "SigningCertUrl": "", "UnsubscribeUrl": "",
                "MessageAttributes": {k: {"Type": v.get("Type", v.get("DataType")), "Value": v.get("Value")}
                                      for k, v in (attributes or {}).items()}},
    }]}


class LambdaService:
    """A cloud Service: install with `start()`, remove with `stop()`."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._rng = random.Random(cloud.rng.random())
        self._rng_lock = threading.Lock()
        self._runtime: LambdaRuntime | None = None
        self._patches = Patches("localcloud.lambdas")

    @property
    def runtime(self) -> LambdaRuntime:
        assert self._runtime is not None, "lambda service not started"
        return self._runtime

    def start(self) -> None:
        cloud = self._cloud
        self._runtime = LambdaRuntime(RuntimeConfig(cloud.endpoint_url, cloud.region, cloud.workdir, cloud.credentials),
                                      cloud.events, self._later)
        self._plan()
        self._patches.install()

    def stop(self) -> None:
        self._patches.uninstall()
        if self._runtime is not None:
            self._runtime.close()

    def describe(self) -> dict[str, Any]:
        return {"functions_dir": str(self._cloud.workdir / "lambda")}

    def _later(self, delay_s: float, fn: Callable[[], None]) -> None:
        def arm() -> None:
            asyncio.get_running_loop().call_later(delay_s, fn)
        self._cloud.loop.call_soon(arm)

    def _delivery_delay(self) -> float:
        with self._rng_lock:
            return self._cloud.profile.delay(DELIVERY_DELAY).sample(self._rng)

    def _plan(self) -> None:
        from moto.awslambda.models import LambdaFunction
        from moto.sns.models import Subscription

        runtime, delay = self.runtime, self._delivery_delay
        original_publish = Subscription.publish

        def invoke(fn: Any, body: str | bytes | None, request_headers: Any, response_headers: Any) -> bytes:
            return _invoke(runtime, fn, body, request_headers, response_headers)

        def publish(subscription: Any, message: str, message_id: str, subject: str | None = None,
                    message_attributes: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
            if subscription.protocol != "lambda":
                original_publish(subscription, message, message_id, subject, message_attributes, *args, **kwargs)
                return
            _deliver(runtime, delay(), subscription, message, message_id, subject, message_attributes,
                     kwargs.get("message_structure"))

        self._patches.add(LambdaFunction, "invoke", invoke)
        self._patches.add(Subscription, "publish", publish)


def _invoke(runtime: LambdaRuntime, fn: Any, body: str | bytes | None, request_headers: Any,
            response_headers: Any) -> bytes:
    kind = request_headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if kind == "DryRun":
        return b""
    event = json.loads(body) if body else {}
    code = FunctionCode.of(fn)
    if kind == "Event":
        runtime.invoke_async(code, event, source="event")
        return b""
    invocation = runtime.invoke(code, event)
    if invocation.error is not None:
        response_headers["x-amz-function-error"] = "Unhandled"
    tail = invocation.log.encode()[-LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()  # moto drops it without Tail
    return invocation.payload


def _deliver(runtime: LambdaRuntime, delay_s: float, subscription: Any, message: str, message_id: str,
             subject: str | None, attributes: dict[str, Any] | None, structure: str | None) -> None:
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(attributes, message):
        return
    if structure == "json":
        message = subscription._parse_message_structure(message, "lambda")
    from moto.awslambda.utils import get_backend

    region = subscription.endpoint.split(":")[3]
    try:
        fn = get_backend(subscription.account_id, region).get_function(subscription.endpoint, None)
    except Exception as exc:  # a subscription to a deleted function: SNS's delivery just fails
        log.warning("SNS delivery to %s failed: %s", subscription.endpoint, exc)
        return
    event = sns_event(subscription.arn, subscription.topic.arn, message_id, message, subject, attributes)
    runtime.invoke_async(FunctionCode.of(fn), event, delay_s, source="sns")
