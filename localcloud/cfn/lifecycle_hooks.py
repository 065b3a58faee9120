"""Lifecycle hooks and SNS subscriptions under moto's CloudFormation, which skips both.

AWS::AutoScaling::LifecycleHook and an ASG's LifecycleHookSpecificationList create real hooks (with
their notification target, role and metadata, which moto's own hook model hard-codes). As on AWS, a
hook in the specification list exists before the group launches its first instances; a separate
LifecycleHook resource is created after the group, so it only applies to later launches.
AWS::SNS::Subscription subscribes an endpoint (lambda, sqs, …) to a topic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from moto.core.common_models import CloudFormationModel

from localcloud.cfn.typed import Typed
from localcloud.patching import Patches


def _autoscaling(account_id: str, region_name: str) -> Any:
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[account_id][region_name]


def put_hook(backend: Any, group: str, name: str, props: Mapping[str, Any]) -> Any:
    """Create (or replace) a hook from the API's or the template's property names."""
    timeout = props.get("HeartbeatTimeout")
    hook = backend.create_lifecycle_hook(name=name, as_name=group, transition=props.get("LifecycleTransition"),
                                         timeout=int(timeout) if timeout not in (None, "") else None,
                                         result=props.get("DefaultResult"))
    configure_hook(hook, props)
    return hook


def configure_hook(hook: Any, props: Mapping[str, Any]) -> None:
    """What moto's hook model leaves out or fakes (a hard-coded SQS queue and role)."""
    hook.notification_target_arn = props.get("NotificationTargetARN") or None
    hook.role_arn = props.get("RoleARN") or None
    hook.notification_metadata = props.get("NotificationMetadata") or None


class LifecycleHook(Typed, CloudFormationModel):
    CFN_TYPE = "AWS::AutoScaling::LifecycleHook"
    CFN_NAME_PROPERTY = "LifecycleHookName"

    def __init__(self, account_id: str, region_name: str, group: str, name: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.group = group
        self.name = name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> LifecycleHook:
        props = cloudformation_json.get("Properties", {})
        group = str(props["AutoScalingGroupName"])
        put_hook(_autoscaling(account_id, region_name), group, resource_name, props)
        return cls(account_id, region_name, group, resource_name)

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def delete(self, account_id: str, region_name: str) -> None:
        _autoscaling(account_id, region_name).delete_lifecycle_hook(self.group, self.name)


class SnsSubscription(Typed, CloudFormationModel):
    CFN_TYPE = "AWS::SNS::Subscription"

    def __init__(self, account_id: str, region_name: str, arn: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        **kwargs: Any,
    ) -> SnsSubscription:
        from moto.sns.models import sns_backends

        props = cloudformation_json.get("Properties", {})
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(str(props["TopicArn"]), str(props["Endpoint"]), str(props["Protocol"]))
        attributes = {"RawMessageDelivery": props.get("RawMessageDelivery"),
                      "FilterPolicy": props.get("FilterPolicy"), "FilterPolicyScope": props.get("FilterPolicyScope")}
        for name, value in attributes.items():
            if value is not None:
                text = value if isinstance(value, str) else _json(value)
                backend.set_subscription_attributes(subscription.arn, name, text)
        return cls(account_id, region_name, str(subscription.arn))

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        backend = sns_backends[account_id][region_name]
        if self.arn in backend.subscriptions:
            backend.unsubscribe(self.arn)


def _json(value: Any) -> str:
    import json

    return json.dumps(value).lower() if isinstance(value, bool) else json.dumps(value)


def hook_specification_patches() -> Patches:
    """AWS::AutoScaling::AutoScalingGroup `LifecycleHookSpecificationList`: the hooks exist before the first launch."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    original: Callable[..., Any] = FakeAutoScalingGroup.create_from_cloudformation_json.__func__

    @functools.wraps(original)
    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        listed = (cloudformation_json.get("Properties") or {}).get("LifecycleHookSpecificationList") or []
        specs = [spec for spec in listed if isinstance(spec, dict)]  # AWS::NoValue items are dropped
        backend = _autoscaling(account_id, region_name)
        for spec in specs:
            put_hook(backend, resource_name, str(spec["LifecycleHookName"]), spec)
        try:
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        except Exception:
            for spec in specs:
                backend.delete_lifecycle_hook(resource_name, str(spec["LifecycleHookName"]))
            raise

    patches = Patches("localcloud.cfn.lifecycle_hooks")
    patches.add(FakeAutoScalingGroup, "create_from_cloudformation_json", classmethod(create))
    return patches
