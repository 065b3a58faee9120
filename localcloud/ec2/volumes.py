"""EBS volumes: zonal, attached through the API or CloudFormation, their data kept as a directory.

moto stores volumes and attachments, but attaches at once, across zones, to a volume already attached, and
keeps no data. Here, as on EC2:

- AttachVolume (the API and `AWS::EC2::VolumeAttachment` alike) refuses a volume in another availability zone
  than the instance (`InvalidVolume.ZoneMismatch`) and a volume that is attached or still detaching
  (`VolumeInUse`). The attachment is `attaching` for `ebs.attach`, then `attached`; the volume is `in-use`
  from the call until it is detached.
- A volume's data is the directory `<workdir>/volumes/<volume id>/`, whichever instance it is attached to.
  Attached, it shows on the instance as `<instance home>/volumes/<device>` (`sdf` for `/dev/sdf`): what the OS
  would see as the block device, ready to use (there is no file system to make). The path appears when the
  attachment is `attached` and goes when detaching starts.
- DetachVolume: the device leaves the instance at once, the attachment is `detaching` for `ebs.detach`, then
  the volume is `available`. A terminated instance's volumes detach the same way; those with
  DeleteOnTermination (the root volume moto gives every instance) are deleted with it.

A launch's own root volume is attached with the instance, without the delay: EC2 attaches block device
mappings before the instance runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.events import EventLog
from localcloud.loop import LoopThread
from localcloud.patching import Patches

log = logging.getLogger(__name__)

ATTACH_DELAY = "ebs.attach"
DETACH_DELAY = "ebs.detach"
ROOT_DEVICE = "/dev/sda1"  # moto's root device for every instance
MOUNTS = "volumes"  # the folder of attached volumes in an instance's home
VOLUME_ATTACHING = "localcloud.ebs.attaching"  # AttachVolume accepted: instance, device, availability_zone
VOLUME_ATTACHED = "localcloud.ebs.attached"  # the volume shows on the instance: instance, device, path
VOLUME_DETACHING = "localcloud.ebs.detaching"  # the device left the instance (DetachVolume or termination)
VOLUME_DETACHED = "localcloud.ebs.detached"  # the volume is available again


def zone_mismatch_error(volume: Any, instance: Any) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("InvalidVolume.ZoneMismatch",
                          f"The volume '{volume.id}' is not in the same availability zone as instance '{instance.id}'")


def in_use_error(volume: Any) -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("VolumeInUse", f"{volume.id} is already attached to an instance")


def device_name(device: str) -> str:
    """`/dev/sdf` -> `sdf`: the name of the volume's path under the instance's home."""
    name = device.rstrip("/").rpartition("/")[2]
    if not name or name.startswith("."):
        raise ValueError(f"device {device!r} names no device")
    return name


class EbsVolumes:
    """The patches on moto's EBS backend and the attach/detach physics. Delays are sampled on the loop thread,
    moto's objects change on the thread that asked (the API call) or on the loop (the delayed steps)."""

    def __init__(self, loop: LoopThread, events: EventLog, delay: Callable[[str], float], workdir: Path) -> None:
        self._loop = loop
        self._events = events
        self._delay = delay
        self._workdir = workdir
        self._timers: set[asyncio.TimerHandle] = set()
        self._patches = Patches("localcloud.ec2.volumes")
        self._plan()

    def install(self) -> None:
        self._patches.install()

    def uninstall(self) -> None:
        self._patches.uninstall()
        self._loop.call_soon(self._cancel_timers)

    def data_of(self, volume_id: str) -> Path:
        """Where the volume's data lives, attached or not."""
        return self._workdir / MOUNTS / volume_id

    def mount_of(self, instance_id: str, device: str) -> Path:
        """Where an instance sees a volume attached at `device`."""
        return self._workdir / instance_id / MOUNTS / device_name(device)

    # --- moto's methods, wrapped ---

    def _plan(self) -> None:
        from moto.ec2.models.elastic_block_store import EBSBackend
        from moto.ec2.models.instances import Instance

        original_attach = EBSBackend.attach_volume
        original_detach = EBSBackend.detach_volume
        original_delete = EBSBackend.delete_volume

        @functools.wraps(original_attach)
        def attach_volume(backend: Any, volume_id: str, instance_id: str, device_path: str,
                          delete_on_termination: bool = False) -> Any:
            volume, instance = backend.get_volume(volume_id), backend.get_instance(instance_id)
            if volume.zone is not None and volume.zone.name != instance.placement.zone:
                raise zone_mismatch_error(volume, instance)
            if volume.attachment is not None:
                raise in_use_error(volume)
            device_name(device_path)
            attachment = original_attach(backend, volume_id, instance_id, device_path, delete_on_termination)
            attachment.status = "attaching"
            self._events.emit(VOLUME_ATTACHING, volume.id, instance=instance.id, device=device_path,
                              availability_zone=volume.zone.name if volume.zone else None)
            self._later(ATTACH_DELAY, self._attached, attachment)
            return attachment

        @functools.wraps(original_detach)
        def detach_volume(backend: Any, volume_id: str, instance_id: str | None, device_path: str | None) -> Any:
            volume = backend.get_volume(volume_id)
            attachment = volume.attachment
            if attachment is None or (instance_id and attachment.instance.id != instance_id):
                return original_detach(backend, volume_id, instance_id, device_path)  # moto's own error
            self._detach(attachment, lambda: original_detach(backend, volume_id, attachment.instance.id,
                                                             attachment.device))
            return attachment

        @functools.wraps(original_delete)
        def delete_volume(backend: Any, volume_id: str) -> Any:
            deleted = original_delete(backend, volume_id)
            shutil.rmtree(self.data_of(volume_id), ignore_errors=True)
            return deleted

        def setup_defaults(instance: Any) -> None:
            """The root volume, attached with the instance (moto's own, without the attach delay)."""
            volume = instance.ec2_backend.create_volume(size=8, zone_name=instance.placement.zone)
            original_attach(instance.ec2_backend, volume.id, instance.id, ROOT_DEVICE, True)

        def teardown_defaults(instance: Any) -> None:
            """Termination: volumes with DeleteOnTermination go with the instance, the others detach."""
            backend = instance.ec2_backend
            for device, mapping in list(instance.block_device_mapping.items()):
                if mapping.delete_on_termination:
                    original_detach(backend, mapping.volume_id, instance.id, device)
                    backend.delete_volume(mapping.volume_id)
                else:
                    backend.detach_volume(mapping.volume_id, instance.id, device)

        self._patches.add(EBSBackend, "attach_volume", attach_volume)
        self._patches.add(EBSBackend, "detach_volume", detach_volume)
        self._patches.add(EBSBackend, "delete_volume", delete_volume)
        self._patches.add(Instance, "setup_defaults", setup_defaults)
        self._patches.add(Instance, "teardown_defaults", teardown_defaults)

    # --- the physics ---

    def _detach(self, attachment: Any, finish: Callable[[], Any]) -> None:
        if attachment.status == "detaching":
            return
        attachment.status = "detaching"
        self._unmount(attachment)
        self._events.emit(VOLUME_DETACHING, attachment.volume.id, instance=attachment.instance.id,
                          device=attachment.device)
        self._later(DETACH_DELAY, self._detached, attachment, finish)

    def _attached(self, attachment: Any) -> None:
        """Loop thread: the attach delay is over (unless the volume was detached meanwhile)."""
        if attachment.volume.attachment is not attachment or attachment.status != "attaching":
            return
        data = self.data_of(attachment.volume.id)
        mount = self.mount_of(attachment.instance.id, attachment.device)
        data.mkdir(parents=True, exist_ok=True)
        mount.parent.mkdir(parents=True, exist_ok=True)
        mount.unlink(missing_ok=True)
        mount.symlink_to(data, target_is_directory=True)
        attachment.status = "attached"
        self._events.emit(VOLUME_ATTACHED, attachment.volume.id, instance=attachment.instance.id,
                          device=attachment.device, path=str(mount))

    def _detached(self, attachment: Any, finish: Callable[[], Any]) -> None:
        """Loop thread: the detach delay is over; moto drops the attachment, the volume is available."""
        if attachment.volume.attachment is not attachment:
            return
        try:
            finish()
        except Exception:
            log.exception("detaching %s from %s failed", attachment.volume.id, attachment.instance.id)
            return
        self._events.emit(VOLUME_DETACHED, attachment.volume.id, instance=attachment.instance.id,
                          device=attachment.device)

    def _unmount(self, attachment: Any) -> None:
        mount = self.mount_of(attachment.instance.id, attachment.device)
        if mount.is_symlink():
            mount.unlink()

    def _later(self, key: str, fn: Callable[..., None], *args: Any) -> None:
        """`fn(*args)` on the loop after one sample of the profile delay `key` (sampled there: a seeded run
        stays reproducible)."""
        def schedule() -> None:
            def fire() -> None:
                self._timers.discard(handle)
                fn(*args)
            handle = asyncio.get_running_loop().call_later(self._delay(key), fire)
            self._timers.add(handle)
        self._loop.call_soon(schedule)

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
