"""eip-self-healing's predictions for a hung app and for the night-time scale to zero (docs/aws-timings.md §16.1).

- A hung app with AppHealthWatchdog=true: the watchdog misses F polls (each at most the interval plus the
  poll's timeout, I + T; the hang may start just after a good poll), then the group notices the custom
  health status at its next periodic check (§5.4: the same unpublished cadence as §5.2) and replaces the
  instance as for a terminated one: T = F x (I + T) + d_asg + t_api + t_pend + t_boot + t_eip.
  Without the watchdog there is nothing to predict: the group never sees the hang.
- The morning after a scale to zero: the group launches at once (no detection: it is a scale-out), so
  T = t_api + t_pend + t_boot + t_eip, measured from the scale back to 1 (the revert), not from the night.
Both leave the user data's own run time out, as terminate-instance does (measured beside, not modelled).
"""

from __future__ import annotations

from gameday.model import Prediction, fixed, phase
from gameday.stacks import DeployedStack, stack_config
from localcloud.profiles import Profile

STACK = "eip-self-healing"


def hung_app(profile: Profile, stack: DeployedStack | None) -> Prediction:
    config = stack_config(STACK, stack)
    interval = float(config.parameter("WatchdogIntervalSeconds"))
    timeout = float(config.parameter("WatchdogTimeoutSeconds"))
    failures = int(config.parameter("WatchdogFailures"))
    watchdog = config.parameter("AppHealthWatchdog")
    return Prediction(STACK, "hang-app", profile.name, (
        fixed("watchdog", failures * (interval + timeout),
              f"WatchdogFailures x (WatchdogIntervalSeconds + WatchdogTimeoutSeconds) = {failures} x "
              f"({interval:g} + {timeout:g})"),
        phase(profile, "detection", "asg.detect_not_running", ends_at="detection"),
        phase(profile, "launch", "ec2.run_instances_api", ends_at="control_plane"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot", ends_at="booted"),
        phase(profile, "association", "eip.associate_to_traffic", ends_at="routed"),
    ), note=f"AppHealthWatchdog={watchdog}; excludes the user-data run time (measured, not modelled)")


def morning(profile: Profile, stack: DeployedStack | None) -> Prediction:
    """From the scale back to 1 until the address serves: phases not mapped to the timeline's (they are
    measured from the revert, the timeline's from the night's start), so only the total compares."""
    return Prediction(STACK, "scale-to-zero", profile.name, (
        phase(profile, "launch", "ec2.run_instances_api"),
        phase(profile, "pending", "ec2.pending_to_running"),
        phase(profile, "boot", "ec2.boot"),
        phase(profile, "association", "eip.associate_to_traffic"),
    ), note="measured from the scale back to 1 (the revert); excludes the user-data run time")
