"""localcloud: the offline AWS stand-in — moto as the API, plus the physics moto lacks.

    with LocalCloud(profiles.load("fast")) as cloud:
        ec2 = cloud.client("ec2")
        ...
        cloud.events.wait_for("localcloud.instance.booted", instance_id)
"""

from localcloud.cloud import LocalCloud, Service, ServiceSpec
from localcloud.errors import LocalCloudError
from localcloud.events import CloudEvent, EventLog
from localcloud.profiles import Profile, ProfileError, load

__all__ = ["CloudEvent", "EventLog", "LocalCloud", "LocalCloudError", "Profile", "ProfileError", "Service",
           "ServiceSpec", "load"]
