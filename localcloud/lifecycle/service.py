"""Lifecycle hooks in a LocalCloud: the moto patches that make them act, run as a cloud Service.

moto stores hooks and nothing more: instances go straight to InService or are terminated at once, and
CompleteLifecycleAction and RecordLifecycleActionHeartbeat answer 500 NotImplemented. Here a new group
member waits in Pending:Wait and a member the group terminates in Terminating:Wait (see `actions`; the
EC2 physics asks, through `TerminationHooks`), the two calls work, PutLifecycleHook keeps its
notification target, role and metadata, and a Pending:Wait instance counts toward the group's capacity
(moto only counts InService ones, so it would launch another) while a terminating one does not — it
is also registered with the group's target groups at once, where AWS waits for InService.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from localcloud import timescale
from localcloud.lifecycle import notify
from localcloud.lifecycle.actions import Action, LifecycleActionError, LifecycleActions, Wiring
from localcloud.patching import Patches

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

TIMEOUT_KEY = "asg.lifecycle_hook_timeout"
# Counted toward desired capacity (moto: InService only). Terminating: an abandoned instance the group
# has not yet noticed, so that noticing it launches the replacement. Not Terminating:Wait/Proceed: the
# group replaces a member its terminating hooks hold while they run.
_IN_GROUP = frozenset({"InService", "Pending", "Pending:Wait", "Pending:Proceed", "Terminating"})


class LifecycleService:
    def __init__(self, cloud: LocalCloud) -> None:
        self._cloud = cloud
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localcloud-lifecycle")
        self._patches = Patches("localcloud.lifecycle")
        self._cfn: Patches | None = None
        self.actions = LifecycleActions(cloud.events, Wiring(
            timeout_for=self._timeout_for, schedule=self._schedule, background=self._background,
            notify=lambda action: notify.publish(action, action.transition), terminate=_terminate))

    def start(self) -> None:
        from localcloud.cfn import lifecycle_hooks, resources

        self._plan()
        self._patches.install()
        self._cfn = lifecycle_hooks.hook_specification_patches()
        self._cfn.install()
        resources.register()  # moto's template engine now knows LifecycleHook and SNS::Subscription
        self._cloud.physics.use_termination_hooks(self.actions)

    def stop(self) -> None:
        self._cloud.physics.use_termination_hooks(None)
        self.actions.close()
        if self._cfn is not None:
            self._cfn.uninstall()
        self._patches.uninstall()
        self._worker.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        return {"pending_actions": len(self.actions.pending())}

    def _timeout_for(self, hook: Any) -> float:
        return timescale.scaled(self._cloud.profile, TIMEOUT_KEY, float(hook.heartbeat_timeout))

    def _schedule(self, delay_s: float, fn: Callable[[], None]) -> None:
        def arm() -> None:
            asyncio.get_running_loop().call_later(delay_s, fn)
        self._cloud.loop.call_soon(arm)

    def _background(self, fn: Callable[[], None]) -> None:
        try:
            self._worker.submit(fn)
        except RuntimeError:  # shut down: the cloud is stopping
            pass

    def _plan(self) -> None:
        from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState, LifecycleHook
        from moto.autoscaling.responses import AutoScalingResponse

        actions, add = self.actions, self._patches.add
        state_init: Callable[..., None] = InstanceState.__init__
        hook_init: Callable[..., None] = LifecycleHook.__init__

        @functools.wraps(state_init)
        def instance_state_init(state: Any, *args: Any, **kwargs: Any) -> None:
            state_init(state, *args, **kwargs)
            if state.lifecycle_state == "InService":
                actions.instance_joined(state)

        @functools.wraps(hook_init)
        def hook_init_without_fakes(hook: Any, *args: Any, **kwargs: Any) -> None:
            hook_init(hook, *args, **kwargs)
            hook.notification_target_arn = hook.role_arn = hook.notification_metadata = None

        def active_instances(group: Any) -> list[Any]:
            return [s for s in group.instance_states if s.lifecycle_state in _IN_GROUP]

        add(InstanceState, "__init__", instance_state_init)
        add(LifecycleHook, "__init__", hook_init_without_fakes)
        add(FakeAutoScalingGroup, "active_instances", active_instances)
        add(AutoScalingResponse, "put_lifecycle_hook", _put_lifecycle_hook)
        add(AutoScalingResponse, "complete_lifecycle_action", _response(actions, complete=True))
        add(AutoScalingResponse, "record_lifecycle_action_heartbeat", _response(actions, complete=False))


def _put_lifecycle_hook(response: Any) -> Any:
    from moto.core.responses import EmptyResult

    from localcloud.cfn.lifecycle_hooks import put_hook

    props = {key: response._get_param(key) for key in (
        "LifecycleTransition", "HeartbeatTimeout", "DefaultResult", "NotificationTargetARN", "RoleARN",
        "NotificationMetadata")}
    put_hook(response.autoscaling_backend, response._get_param("AutoScalingGroupName"),
             response._get_param("LifecycleHookName"), props)
    return EmptyResult()


def _response(actions: LifecycleActions, *, complete: bool) -> Callable[[Any], Any]:
    def handle(response: Any) -> Any:
        from moto.autoscaling.exceptions import ValidationError
        from moto.core.responses import EmptyResult

        group, hook = response._get_param("AutoScalingGroupName"), response._get_param("LifecycleHookName")
        token, instance_id = response._get_param("LifecycleActionToken"), response._get_param("InstanceId")
        try:
            if complete:
                actions.complete(group, hook, response._get_param("LifecycleActionResult") or "",
                                 token=token, instance_id=instance_id)
            else:
                actions.heartbeat(group, hook, token=token, instance_id=instance_id)
        except LifecycleActionError as exc:
            raise ValidationError(str(exc)) from exc
        return EmptyResult()
    handle.__name__ = "complete_lifecycle_action" if complete else "record_lifecycle_action_heartbeat"
    return handle


def _terminate(instance: Any) -> None:
    """An abandoned launch: EC2 terminates the instance; the group then notices and replaces it."""
    for state in list(instance.autoscaling_group.instance_states):
        if state.instance is instance:
            state.lifecycle_state = "Terminating"
    from moto.autoscaling import autoscaling_backends
    from moto.elbv2 import elbv2_backends

    backend = instance.ec2_backend
    backend.terminate_instances([instance.id])
    # what moto's TerminateInstances response does after the backend call (the backend does not)
    autoscaling_backends[backend.account_id][backend.region_name].notify_terminate_instances([instance.id])
    elbv2_backends[backend.account_id][backend.region_name].notify_terminate_instances([instance.id])


__all__ = ["Action", "LifecycleService"]
