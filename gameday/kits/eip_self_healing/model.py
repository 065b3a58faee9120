"""eip-self-healing: T_A = d_asg + t_api + t_pend + t_boot + t_eip (docs/aws-timings.md §16.1)."""

from __future__ import annotations

from gameday.model import Prediction, phase
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile

STACK = "eip-self-healing"


def terminate_instance(profile: Profile, stack: DeployedStack | None) -> Prediction:
    config = stack_config(STACK, stack)
    check = config.value("WebGroup", "HealthCheckType", default="EC2")
    # The user data's own run time (curl to IMDS + one `aws ec2 associate-address`) is real on localcloud,
    # not a profile number, so it is left out of the sum and measured beside it (the user_data phase).
    return Prediction(STACK, "terminate-instance", profile.name, (
        phase(profile, "detection", "asg.detect_not_running", ends_at="detection"),
        phase(profile, "launch", "ec2.run_instances_api", ends_at="control_plane"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot", ends_at="booted"),
        phase(profile, "association", "eip.associate_to_traffic", ends_at="routed"),
    ), note=f"{check} health check; excludes the user-data run time (measured, not modelled)")
