"""Deleting `AWS::EC2::Volume` and `AWS::EC2::VolumeAttachment` as CloudFormation does.

CloudFormation deletes a stack's data volume after the group whose instance held it; the instance's
termination detaches the volume, which takes `ebs.detach` (localcloud.ec2.volumes), and CloudFormation waits
for that before deleting it. moto would try at once and fail with VolumeInUse. A volume still attached (not
detaching) is a dependency that is not gone yet: the deleter raises and moto's delete loop tries again.
"""

from __future__ import annotations

import time
from typing import Any

DETACH_WAIT_S = 60.0  # longer than any profile's ebs.detach
_POLL_S = 0.05


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def delete_volume(volume: Any, account_id: str, region: str) -> None:
    backend = _ec2(account_id, region)
    deadline = time.monotonic() + DETACH_WAIT_S
    while volume.id in backend.volumes and volume.attachment is not None \
            and volume.attachment.status == "detaching" and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    if volume.id in backend.volumes:
        backend.delete_volume(volume.id)  # VolumeInUse while attached: retried


def delete_volume_attachment(attachment: Any, account_id: str, region: str) -> None:
    volume = attachment.volume
    if volume.attachment is attachment and attachment.status != "detaching":
        _ec2(account_id, region).detach_volume(volume.id, attachment.instance.id, attachment.device)
