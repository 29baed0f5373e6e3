"""SCST's ``vdisk_blockio``: a disk that is a block device, accessed with O_DIRECT.

Defaults follow SCST (scst_sysfs.md §4.2): the vendor is ``SCST_BIO``, the size is the
device's, ``rotational`` and ``thin_provisioned`` come from the device's queue unless given
(thin provisioning is on when the device can discard), and the block size stays 512 unless
given, but may never be smaller than the device's logical block size, since a write of part
of a device block would need a read-modify-write that races other writers.

The device may go away and come back while it is exported (``block_hotplug``): the spec
parameter ``backing`` (set by the daemon's udev watcher) says where it is now, or, empty,
that it is gone, in which case the disk starts offline.
"""

from __future__ import annotations

import errno

from .block_backend import BlockBackend
from .block_hotplug import BACKING, BlockioDevice, DetachedBackend
from .declaration import DIRECT_ACCESS_DEVICE, HandlerDeclaration, Key, Param, Parameters
from .disk import DiskSettings
from .identity import Identity
from .params import disk_settings, identity
from .vdisk_attributes import BACKED, COMMON_DISK, DISK_CHECKS, LOGICAL_PER_PHYSICAL

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
                identity: Identity | None = None, given: Parameters | None = None,
                backend: BlockBackend | None = None) -> BlockioDevice:
    """A disk over the block device ``filename``.  ``given`` says which parameters were set
    explicitly; the device's own properties fill in ``rotational`` and
    ``thin_provisioned`` where they were not.  ``backend`` replaces the opened device (for
    tests, which have no block device to open)."""
    settings = settings or DiskSettings()
    if backend is None:
        backend = BlockBackend(filename, read_only=settings.read_only)
    try:
        check_block_size(backend, settings.block_size)
        if given is None or not given.was_given("rotational"):
            settings.rotational = backend.rotational
        if given is None or not given.was_given("thin_provisioned"):
            settings.thin_provisioned = backend.can_deallocate
    except BaseException:
        backend.close()
        raise
    return BlockioDevice(identity or Identity(name, vendor=VENDOR), backend, settings)


def offline_device(name: str, filename: str, settings: DiskSettings,
                   identity: Identity) -> BlockioDevice:
    """A disk whose block device is away (a worker restarted while it was): it answers NOT
    READY until the watcher attaches the device again; its size is unknown until then."""
    backend = DetachedBackend(filename, 0, settings.block_size, settings.rotational,
                              False, 0, 0)
    return BlockioDevice(identity, backend, settings)


def create(name: str, params: Parameters) -> BlockioDevice:
    if not params.get("filename"):
        raise OSError(errno.EINVAL, "File name required")
    settings = disk_settings(params)
    ident = identity(name, params, VENDOR)
    where = params.get(BACKING, params["filename"])
    if not where:
        return offline_device(name, params["filename"], settings, ident)
    return open_device(name, where, settings, ident, given=params)


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(*BACKED, *COMMON_DISK,
            # not SCST's, so never a key: the state of the block device, not a setting
            Param("offline", "0", creation=False, key=Key.NEVER,
                  help="1 while the block device is gone (udev hotplug)"),
            LOGICAL_PER_PHYSICAL),
    advertised=("active", "bind_alua_state", "blocksize", "cluster_mode", "dif_filename",
                "dif_mode", "dif_static_app_tag", "dif_type", "filename", "numa_node_id",
                "nv_cache", "read_only", "removable", "rotational", "thin_provisioned",
                "tst", "t10_dev_id", "write_through"),
    filename_required=True,
    checks=DISK_CHECKS,
    create=create,
)
