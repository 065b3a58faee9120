"""An instance that claims its Elastic IP at boot, in an Auto Scaling group that replaces it: the fault
(terminate the InService instance of the group an output names) and the replacement time the group's
settings imply: T = d_asg + t_api + t_pend + t_boot + t_eip (docs/aws-timings.md §16.1).

The user data's own run time (metadata lookup, one associate-address call) is real on localcloud, not a
profile number: it is left out of the sum and shows as measured-only time beside it.
"""

from __future__ import annotations

from gameday.backends.base import Backend
from gameday.errors import ConfigError
from gameday.faults import Fault, TerminateInstance
from gameday.kits.blocks.stack_timing import group_settings
from gameday.kits.kit import Deployment, FaultBuilder, FaultSpec
from gameday.model import PredictedPhase, phase
from gameday.template import StackConfig
from localcloud.profiles import Profile

FAULT = "terminate-instance"


def terminate_in_group(group_output: str, index: int = 0) -> FaultBuilder:
    """The fault builder: terminate the InService instance of the group named by output `group_output`
    (a comma list of groups: the `index`th)."""

    def build(backend: Backend, deployment: Deployment) -> Fault:
        groups = deployment.output(group_output).split(",")
        if index >= len(groups):
            raise ConfigError(f"output {group_output} names {len(groups)} groups, not a group #{index + 1}")
        return TerminateInstance(backend, groups[index].strip())

    return build


def terminate_fault(group_output: str, index: int = 0, what: str = "instance") -> FaultSpec:
    return FaultSpec(FAULT, f"the InService {what} of Auto Scaling group #{index + 1} in output {group_output}",
                     "the group's min/max/desired back as they were (the group itself replaces the instance)",
                     terminate_in_group(group_output, index))


def replacement_phases(profile: Profile, config: StackConfig) -> tuple[PredictedPhase, ...]:
    """From the fault until the replacement serves on the claimed address. A terminated instance is found
    by EC2 status whatever the HealthCheckType; the grace period only delays ELB health checks of the new
    one, so it does not add here (the note says which settings were read)."""
    if not group_settings(config):
        raise ConfigError(f"{config.stack_id}: the template has no AWS::AutoScaling::AutoScalingGroup")
    return (
        phase(profile, "detection", "asg.detect_not_running", ends_at="detection"),
        phase(profile, "launch", "ec2.run_instances_api", ends_at="control_plane"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot", ends_at="booted"),
        phase(profile, "association", "eip.associate_to_traffic", ends_at="routed"),
    )


def groups_note(config: StackConfig) -> str:
    return "; ".join(f"{g.logical_id}: {g.health_check_type} health check, grace {g.grace_period_s:g} s"
                     for g in group_settings(config))
