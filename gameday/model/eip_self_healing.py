"""eip-self-healing: T_A = d_asg + t_api + t_pend + t_boot + t_eip (aws-timings §12.2 A)."""

from __future__ import annotations

from gameday.model import Prediction, phase, register
from gameday.stacks import DeployedStack
from localcloud.profiles import Profile


@register("eip-self-healing", "terminate-instance")
def terminate_instance(profile: Profile, stack: DeployedStack | None) -> Prediction:
    # The user data's own run time (curl to IMDS + one `aws ec2 associate-address`) is real on localcloud,
    # not a profile number, so it is left out of the sum and reported beside it.
    return Prediction("eip-self-healing", "terminate-instance", profile.name, (
        phase(profile, "detection", "asg.detect_not_running"),
        phase(profile, "launch", "ec2.run_instances_api"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot"),
        phase(profile, "association", "eip.associate_to_traffic"),
    ), note="excludes the user-data run time (measured, not modelled)")
