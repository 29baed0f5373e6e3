"""SCST's ``vdisk_blockio``: a disk that is a block device, accessed with O_DIRECT.

Defaults follow SCST (scst_sysfs.md §4.2): the vendor is ``SCST_BIO``, the size is the
device's, ``rotational`` and ``thin_provisioned`` come from the device's queue unless given
(thin provisioning is on when the device can discard), and the block size stays 512 unless
given, but may never be smaller than the device's logical block size, since a write of part
of a device block would need a read-modify-write that races other writers.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping

from .block_backend import BlockBackend
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity

HANDLER = "vdisk_blockio"
VENDOR = "SCST_BIO"


def check_block_size(backend: BlockBackend, block_size: int) -> None:
    """The SCSI block size must be a whole number of the device's logical blocks."""
    device_block = backend.logical_block_size
    if block_size < device_block or block_size % device_block:
        raise OSError(errno.EINVAL,
                      f"blocksize {block_size} does not fit {backend.path}: its logical block "
                      f"size is {device_block}; use blocksize={device_block} or a multiple")


def open_device(name: str, filename: str, settings: DiskSettings | None = None,
                identity: Identity | None = None, given: Mapping[str, str] | None = None,
                backend: BlockBackend | None = None) -> BlockDevice:
    """A disk over the block device ``filename``.  ``given`` holds the parameters set
    explicitly; the device's own properties fill in ``rotational`` and
    ``thin_provisioned`` where they are absent.  ``backend`` replaces the opened device (for
    tests, which have no block device to open)."""
    settings = settings or DiskSettings()
    given = given or {}
    if backend is None:
        backend = BlockBackend(filename, read_only=settings.read_only)
    try:
        check_block_size(backend, settings.block_size)
        if "rotational" not in given:
            settings.rotational = backend.rotational
        if "thin_provisioned" not in given:
            settings.thin_provisioned = backend.can_deallocate
    except BaseException:
        backend.close()
        raise
    return BlockDevice(identity or Identity(name, vendor=VENDOR), backend, settings)


def create(name: str, params: Mapping[str, str]) -> BlockDevice:
    if "filename" not in params:
        raise OSError(errno.EINVAL, "File name required")
    return open_device(name, params["filename"], disk_settings(params),
                       identity(name, params, VENDOR), given=params)
