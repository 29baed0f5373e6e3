"""SCST's ``vdisk_nullio``: a disk with no storage; reads return zeros, writes vanish."""

from __future__ import annotations

from .backend import NullBackend
from .declaration import (
    DIRECT_ACCESS_DEVICE,
    Access,
    HandlerDeclaration,
    Key,
    Param,
    Parameters,
)
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity
from .values import at_least, invalid, one_of
from .vdisk_attributes import COMMON_DISK, DISK_CHECKS

HANDLER = "vdisk_nullio"
VENDOR = "SCST_FIO"
DEFAULT_SIZE = 2748779069440  # 2.5 TiB, SCST's default


def open_device(name: str, size: int = DEFAULT_SIZE, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    return BlockDevice(identity or Identity(name, vendor=VENDOR), NullBackend(size), settings)


def size_in_bytes(params: Parameters) -> int:
    """``size_mb`` when given, else ``size`` (SCST: size_mb wins)."""
    return params["size_mb"] << 20 if params["size_mb"] is not None else params["size"]


def size_fits_blocks(params: Parameters) -> None:
    """A check: the disk is a positive whole number of blocks."""
    size, block = size_in_bytes(params), params["blocksize"]
    if size <= 0 or size % block:
        raise invalid(f"size {size} is not a positive multiple of the block size {block}")


def create(name: str, params: Parameters) -> BlockDevice:
    device = open_device(name, size_in_bytes(params), disk_settings(params),
                         identity(name, params, VENDOR))
    device.dummy = bool(params["dummy"])
    return device


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(
        *COMMON_DISK,
        # [key] unless at the default: a saved creation parameter (size_mb never is)
        Param("size", str(DEFAULT_SIZE), access=Access.READ_ONLY, parse=at_least(1),
              help="size in bytes (default 2.5 TiB)"),
        Param("size_mb", creation=True, access=Access.READ_ONLY, key=Key.NEVER,
              parse=at_least(1), help="size in MiB, instead of size"),
        # SCST refuses dummy > 1 (not a one-bit field)
        Param("dummy", "0", parse=one_of(0, 1),
              help="1: INQUIRY says no device is here (peripheral qualifier 1, type 1Fh)"),
    ),
    advertised=("blocksize", "cluster_mode", "dif_mode", "dif_static_app_tag", "dif_type",
                "dummy", "numa_node_id", "read_only", "removable", "rotational", "size",
                "size_mb", "tst", "t10_dev_id"),
    checks=(*DISK_CHECKS, size_fits_blocks),
    create=create,
)
