"""eip-self-healing: T_A = d_asg + t_api + t_pend + t_boot [+ t_attach] + t_eip (docs/aws-timings.md §16.1, §8.4).

With the data volume (DataVolume=true, the default) the user data attaches it before claiming the address, so
the attach delay is on the path; the previous instance's detach runs while the group detects and launches, so it
is not. A lost zone has no prediction here: the group with a data volume launches only in the volume's zone, so
while that zone is gone there is no replacement to time (zone-lost's message says so)."""

from __future__ import annotations

from gameday.model import PredictedPhase, Prediction, phase
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile

STACK = "eip-self-healing"


def terminate_instance(profile: Profile, stack: DeployedStack | None) -> Prediction:
    config = stack_config(STACK, stack)
    check = config.value("WebGroup", "HealthCheckType", default="EC2")
    with_data = config.parameter("DataVolume") == "true"
    attach: tuple[PredictedPhase, ...] = (phase(profile, "data volume attach", "ebs.attach"),) if with_data else ()
    # The user data's own run time (curl to IMDS, the AWS CLI calls) is real on localcloud, not a profile number,
    # so it is left out of the sum and measured beside it (the user_data phase).
    return Prediction(STACK, "terminate-instance", profile.name, (
        phase(profile, "detection", "asg.detect_not_running", ends_at="detection"),
        phase(profile, "launch", "ec2.run_instances_api", ends_at="control_plane"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot", ends_at="booted"),
        *attach,
        phase(profile, "association", "eip.associate_to_traffic", ends_at="routed"),
    ), note=f"{check} health check{'; data volume attached before the address is claimed' if with_data else ''}; "
            "excludes the user-data run time (measured, not modelled)")
