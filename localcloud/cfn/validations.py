"""AWS's create-time validations that moto skips, raised where AWS raises them.

moto stores an Auto Scaling group with `MaxSize: 0` and `DesiredCapacity: 1`, a target group polled every
600 s, a Lambda that may run an hour: AWS refuses each at create time, so a template with such a value never
deploys there. These checks sit on moto's backend methods, which both the API and CloudFormation call, so
`create_auto_scaling_group` answers AWS's error and a stack with the same resource fails (see
`localcloud.cfn.failures`). Each error has AWS's code, message and HTTP status (400); checks moto already
makes (a target group's timeout shorter than its interval, one launch source per group) are left to it.

Range checks read like AWS's request validation ("1 validation error detected: Value '600' at
'healthCheckIntervalSeconds' failed to satisfy constraint: Member must have value less than or equal to
300"); botocore already refuses values below a documented minimum before sending, so these matter for
values above the maximum and for CloudFormation, which botocore does not see.
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
from collections.abc import Callable
from typing import Any

from localcloud.patching import Patches

# (request member, minimum, maximum) per service, from the API references
TARGET_GROUP_RANGES = {
    "healthcheck_interval_seconds": ("healthCheckIntervalSeconds", 5, 300),
    "healthcheck_timeout_seconds": ("healthCheckTimeoutSeconds", 2, 120),
    "healthy_threshold_count": ("healthyThresholdCount", 2, 10),
    "unhealthy_threshold_count": ("unhealthyThresholdCount", 2, 10),
}
MODIFY_TARGET_GROUP_RANGES = {
    "health_check_interval": TARGET_GROUP_RANGES["healthcheck_interval_seconds"],
    "health_check_timeout": TARGET_GROUP_RANGES["healthcheck_timeout_seconds"],
    "healthy_threshold_count": TARGET_GROUP_RANGES["healthy_threshold_count"],
    "unhealthy_threshold_count": TARGET_GROUP_RANGES["unhealthy_threshold_count"],
}
HEALTH_CHECK_RANGES = {"failure_threshold": ("healthCheckConfig.failureThreshold", 1, 10)}
HEALTH_CHECK_INTERVALS = (10, 30)
LAMBDA_TIMEOUT = ("timeout", 1, 900)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def range_violations(values: dict[str, Any], ranges: dict[str, tuple[str, int, int]]) -> str | None:
    """AWS's request-validation message for the values outside their range, or None."""
    found = []
    for key, (member, low, high) in ranges.items():
        value = _int(values.get(key))
        if value is not None and value > high:
            found.append(f"Value '{value}' at '{member}' failed to satisfy constraint: "
                         f"Member must have value less than or equal to {high}")
        elif value is not None and value < low:
            found.append(f"Value '{value}' at '{member}' failed to satisfy constraint: "
                         f"Member must have value greater than or equal to {low}")
    if not found:
        return None
    plural = "s" if len(found) > 1 else ""
    return f"{len(found)} validation error{plural} detected: " + "; ".join(found)


def group_size_error(min_size: int | None, max_size: int | None, desired: int | None) -> str | None:
    """CreateAutoScalingGroup/UpdateAutoScalingGroup: MinSize ≤ MaxSize, then MinSize ≤ DesiredCapacity ≤ MaxSize."""
    if min_size is not None and max_size is not None and min_size > max_size:
        return f"Max bound, {max_size}, must be greater than or equal to min bound, {min_size}"
    if desired is not None and min_size is not None and max_size is not None \
            and not min_size <= desired <= max_size:
        return f"Desired capacity:{desired} must be between the specified min size:{min_size} and max size:{max_size}"
    return None


def set_desired_error(group: Any, desired: int) -> str | None:
    """SetDesiredCapacity outside the group's current bounds."""
    if desired > group.max_size:
        return f"New SetDesiredCapacity value {desired} is above max value {group.max_size} for the AutoScalingGroup."
    if desired < group.min_size:
        return f"New SetDesiredCapacity value {desired} is below min value {group.min_size} for the AutoScalingGroup."
    return None


def request_interval_error(value: Any) -> str | None:
    """Route 53 health checks probe every 10 s (fast) or 30 s (standard): nothing in between."""
    interval = _int(value)
    if interval is None or interval in HEALTH_CHECK_INTERVALS:
        return None
    return f"Invalid parameter : RequestInterval must be 10 or 30, not {interval}"


def record_set_error(zone_name: str, record: dict[str, Any]) -> str | None:
    """ChangeResourceRecordSets (and CloudFormation's record sets): the name inside the zone, A and AAAA
    values that are addresses, no CNAME at the apex. Route 53's own wording (InvalidChangeBatch)."""
    zone = zone_name.rstrip(".").lower()
    name = str(record.get("Name", "")).rstrip(".").lower()
    if name != zone and not name.endswith("." + zone):
        return f"RRSet with DNS name {name}. is not permitted in zone {zone}."
    kind = str(record.get("Type", "")).upper()
    if kind == "CNAME" and name == zone:
        return f"RRSet of type CNAME with DNS name {name}. is not permitted at apex in zone {zone}."
    family = {"A": (ipaddress.IPv4Address, "ARRDATAIllegalIPv4Address", "IPv4"),
              "AAAA": (ipaddress.IPv6Address, "AAAARRDATAIllegalIPv6Address", "IPv6")}.get(kind)
    for value in record.get("ResourceRecords") or []:
        text = str(value.get("Value", "") if isinstance(value, dict) else value)
        if family is None:
            break
        parse, code, label = family
        try:
            parse(text)
        except ValueError:
            return (f"[Invalid Resource Record: 'FATAL problem: {code} (Value is not a valid {label} address) "
                    f"encountered with '{text}'']")
    return None


def validation_patches() -> Patches:
    from moto.autoscaling.exceptions import ValidationError as AsgValidationError
    from moto.autoscaling.models import AutoScalingBackend
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend
    from moto.elbv2.exceptions import ValidationError as ElbValidationError
    from moto.elbv2.models import ELBv2Backend
    from moto.route53.exceptions import InvalidInput, Route53ClientError
    from moto.route53.models import FakeZone, Route53Backend

    patches = Patches("localcloud.cfn.validations")

    def before(cls: type, name: str, check: Callable[[Any, dict[str, Any]], str | None],
               error: Callable[[str], Exception]) -> None:
        """moto's `cls.name`, refused with `error(message)` when `check(backend, arguments)` finds a fault."""
        original = getattr(cls, name)
        signature = inspect.signature(original)

        @functools.wraps(original)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind_partial(self, *args, **kwargs).arguments
            message = check(self, arguments)
            if message is not None:
                raise error(message)
            return original(self, *args, **kwargs)
        patches.add(cls, name, checked)

    def create_group(_: Any, a: dict[str, Any]) -> str | None:
        return group_size_error(_int(a.get("min_size")), _int(a.get("max_size")), _int(a.get("desired_capacity")))

    def update_group(backend: Any, a: dict[str, Any]) -> str | None:
        group = backend.autoscaling_groups.get(a.get("name"))
        if group is None:
            return None  # moto's own "AutoScalingGroup name not found"
        low, high = _int(a.get("min_size")), _int(a.get("max_size"))
        return group_size_error(group.min_size if low is None else low, group.max_size if high is None else high,
                                _int(a.get("desired_capacity")))

    def set_desired(response: Any, _: dict[str, Any]) -> str | None:
        """The SetDesiredCapacity request only: moto itself sets a group to 0 on its way out."""
        group = response.autoscaling_backend.autoscaling_groups.get(response._get_param("AutoScalingGroupName"))
        desired = _int(response._get_int_param("DesiredCapacity"))
        return None if group is None or desired is None else set_desired_error(group, desired)

    def health_check(_: Any, a: dict[str, Any]) -> str | None:
        values = a.get("health_check_args") or {}
        return range_violations(values, HEALTH_CHECK_RANGES) or request_interval_error(values.get("request_interval"))

    def lambda_timeout(config: Any) -> str | None:
        return range_violations({"Timeout": (config or {}).get("Timeout")}, {"Timeout": LAMBDA_TIMEOUT})

    def lambda_error(message: str) -> Exception:
        return LambdaClientError("ValidationException", message)

    before(AutoScalingBackend, "create_auto_scaling_group", create_group, AsgValidationError)
    before(AutoScalingBackend, "update_auto_scaling_group", update_group, AsgValidationError)
    before(AutoScalingResponse, "set_desired_capacity", set_desired, AsgValidationError)
    before(ELBv2Backend, "create_target_group",
           lambda _, a: range_violations(a.get("kwargs", {}), TARGET_GROUP_RANGES), ElbValidationError)
    before(ELBv2Backend, "modify_target_group",
           lambda _, a: range_violations(a, MODIFY_TARGET_GROUP_RANGES), ElbValidationError)
    before(Route53Backend, "create_health_check", health_check, InvalidInput)
    before(Route53Backend, "update_health_check", health_check, InvalidInput)
    def record_set(zone: Any, a: dict[str, Any]) -> str | None:
        return record_set_error(str(zone.name), a.get("record_set") or {})

    def change_batch_error(message: str) -> Exception:
        return Route53ClientError("InvalidChangeBatch", message)

    def change_batch(backend: Any, a: dict[str, Any]) -> str | None:
        """Before moto's own looser check (a bare suffix match, its message without the final dots)."""
        zone = backend.get_hosted_zone(a.get("zoneid"))
        return next((error for change in a.get("change_list") or [] if change.get("Action") != "DELETE"
                     for error in [record_set_error(str(zone.name), change.get("ResourceRecordSet") or {})]
                     if error), None)

    before(Route53Backend, "change_resource_record_sets", change_batch, change_batch_error)
    before(FakeZone, "add_rrset", record_set, change_batch_error)
    before(FakeZone, "upsert_rrset", record_set, change_batch_error)
    before(LambdaBackend, "create_function", lambda _, a: lambda_timeout(a.get("spec")), lambda_error)
    before(LambdaBackend, "update_function_configuration", lambda _, a: lambda_timeout(a.get("body")), lambda_error)
    return patches
