"""SCST's ``vdisk_nullio``: a disk with no storage; reads return zeros, writes vanish."""

from __future__ import annotations

from collections.abc import Mapping

from .backend import NullBackend
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity, invalid, number

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
