"""SCST's ``vdisk_nullio``: a disk with no storage; reads return zeros, writes vanish."""

from __future__ import annotations

from collections.abc import Mapping

from .backend import NullBackend
from .declaration import DIRECT_ACCESS_DEVICE, Access, HandlerDeclaration, Key, Param, flag_param
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity, invalid, number
from .vdisk_attributes import COMMON_DISK

HANDLER = "vdisk_nullio"
VENDOR = "SCST_FIO"
DEFAULT_SIZE = 2748779069440  # 2.5 TiB, SCST's default


def open_device(name: str, size: int = DEFAULT_SIZE, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    return BlockDevice(identity or Identity(name, vendor=VENDOR), NullBackend(size), settings)


def create(name: str, params: Mapping[str, str]) -> BlockDevice:
    settings = disk_settings(params)
    size = number(params, "size") if "size" in params else DEFAULT_SIZE
    if "size_mb" in params:
        size = number(params, "size_mb") << 20
    if size <= 0 or size % settings.block_size:
        raise invalid(f"size {size} is not a positive multiple of the block size "
                      f"{settings.block_size}")
    dummy = number(params, "dummy") if "dummy" in params else 0
    if dummy not in (0, 1):
        raise invalid(f"dummy={dummy}: use 0 or 1")
    device = open_device(name, size, settings, identity(name, params, VENDOR))
    device.dummy = bool(dummy)
    return device


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(
        *COMMON_DISK,
        # [key] unless at the default: a saved creation parameter (size_mb never is)
        Param("size", str(DEFAULT_SIZE), access=Access.READ_ONLY,
              help="size in bytes (default 2.5 TiB)"),
        Param("size_mb", creation=True, access=Access.READ_ONLY, key=Key.NEVER,
              help="size in MiB, instead of size"),
        flag_param("dummy", "1: INQUIRY says no device is here (peripheral qualifier 1, "
                   "type 1Fh)"),
    ),
    advertised=("blocksize", "cluster_mode", "dif_mode", "dif_static_app_tag", "dif_type",
                "dummy", "numa_node_id", "read_only", "removable", "rotational", "size",
                "size_mb", "tst", "t10_dev_id"),
    create=create,
)
