"""A resource that AWS refuses fails its stack, as on AWS: CREATE_FAILED with the service's message, then rollback.

moto creates a stack's resources inside the CreateStack call, so a service error (an Auto Scaling group
whose desired capacity is above its maximum) became CreateStack's own error and left the stack behind in
CREATE_IN_PROGRESS. On AWS CreateStack succeeds; the resource then fails with CREATE_FAILED and a status
reason carrying the service's message ("Desired capacity:1 must be between … (Service: AmazonAutoScaling;
Status Code: 400; Error Code: ValidationError; Request ID: …)"), and the stack rolls back: the resources
made so far are deleted and the stack ends in ROLLBACK_COMPLETE (`OnFailure: ROLLBACK`, the default),
DELETE_COMPLETE (`OnFailure: DELETE`) or stays CREATE_FAILED (`DO_NOTHING`, or `DisableRollback`).
gameday reads the failed resource's reason from the stack events, here as on AWS.

Template errors (a bad `Fn::Cidr`, an unknown attribute) stay CreateStack's own ValidationError, as AWS
reports them before any resource is made.
"""

from __future__ import annotations

import contextvars
from typing import Any

from localcloud.patching import Patches

# the service names AWS writes in a resource's status reason, by moto's service package
SERVICE_NAMES = {
    "autoscaling": "AmazonAutoScaling",
    "elbv2": "AmazonElasticLoadBalancingV2",
    "route53": "AmazonRoute53",
    "awslambda": "AWSLambda",
    "ec2": "AmazonEC2",
    "ecs": "AmazonECS",
    "s3": "Amazon S3",
    "iam": "AmazonIdentityManagement",
    "sns": "AmazonSNS",
}
_ON_FAILURE: contextvars.ContextVar[str] = contextvars.ContextVar("localcloud_cfn_on_failure", default="ROLLBACK")


class ResourceCreateFailed(Exception):
    """A resource of the stack being created was refused by its service."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


def service_error(exc: BaseException) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of a moto service's error; None for anything else (template errors too)."""
    from moto.core.exceptions import ServiceException
    from werkzeug.exceptions import HTTPException

    if type(exc).__module__.startswith("moto.cloudformation"):
        return None
    if isinstance(exc, ServiceException):
        return str(exc.code), str(exc.message), int(getattr(exc, "status", 400) or 400)
    if isinstance(exc, HTTPException) and hasattr(exc, "error_type"):
        return str(exc.error_type), str(getattr(exc, "message", exc.description)), int(exc.code or 400)
    return None


def status_reason(exc: BaseException, code: str, message: str, status: int) -> str:
    """The resource's status reason as CloudFormation writes a service's refusal."""
    from moto.moto_api._internal import mock_random

    package = type(exc).__module__.split(".")[1] if type(exc).__module__.startswith("moto.") else ""
    service = SERVICE_NAMES.get(package, package)
    return (f"{message} (Service: {service}; Status Code: {status}; Error Code: {code}; "
            f"Request ID: {mock_random.uuid4()})")


def failure_patches() -> Patches:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, Stack, cloudformation_backends
    from moto.cloudformation.responses import CloudFormationResponse

    patches = Patches("localcloud.cfn.failures")
    original_create = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        try:
            return original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceCreateFailed:
            raise  # a resource this one referred to failed: that one is the cause
        except Exception as exc:
            refused = service_error(exc)
            if refused is None:
                raise
            raise ResourceCreateFailed(logical_id, str(resource_json.get("Type", "")),
                                       status_reason(exc, *refused)) from exc

    original_create_resources = Stack.create_resources

    def create_resources(stack: Any) -> None:
        try:
            original_create_resources(stack)
        except ResourceCreateFailed as failed:
            _fail(stack, failed, _ON_FAILURE.get())

    def _fail(stack: Any, failed: ResourceCreateFailed, on_failure: str) -> None:
        stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name,
                                  logical_resource_id=failed.logical_id, physical_resource_id="",
                                  resource_type=failed.resource_type, resource_status="CREATE_FAILED",
                                  resource_status_reason=failed.reason, resource_properties=None))
        reason = f"The following resource(s) failed to create: [{failed.logical_id}]. "
        if on_failure == "DO_NOTHING":
            stack.status = "CREATE_FAILED"
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            return
        if on_failure == "DELETE":
            stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason=reason + "Delete requested by user.")
            _delete_resources(stack)
            stack.status = "DELETE_COMPLETE"
            stack._add_stack_event("DELETE_COMPLETE")
            backend = cloudformation_backends[stack.account_id][stack.region_name]
            backend.stacks.pop(stack.stack_id, None)
            backend.deleted_stacks[stack.stack_id] = stack
            return
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason + "Rollback requested by user.")
        _delete_resources(stack)
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")

    def _delete_resources(stack: Any) -> None:
        """Delete what was made; the resources never made must not be made later either (moto's resource
        map creates a resource the first time anything lists it)."""
        stack.resource_map.delete()
        stack.resource_map._resource_json_map = {}
        # A stack that failed to create has no outputs (they would name resources that no longer exist:
        # DescribeStacks must not fail on them).
        stack.output_map._output_json_map = {}
        stack.output_map._parsed_outputs = {}

    original_response = CloudFormationResponse.create_stack

    def create_stack(response: Any) -> Any:
        """CreateStack's OnFailure (or DisableRollback) for the stack's create_resources, on this thread."""
        on_failure = response._get_param("OnFailure") or (
            "DO_NOTHING" if response._get_bool_param("DisableRollback", False) else "ROLLBACK")
        token = _ON_FAILURE.set(str(on_failure))
        try:
            return original_response(response)
        finally:
            _ON_FAILURE.reset(token)

    patches.add(parsing, "parse_and_create_resource", parse_and_create_resource)
    patches.add(Stack, "create_resources", create_resources)
    patches.add(CloudFormationResponse, "create_stack", create_stack)
    return patches
