"""SCST's ``vdisk_nullio``: a disk with no storage; reads return zeros, writes vanish."""

from __future__ import annotations

from collections.abc import Mapping

from .backend import NullBackend
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity

HANDLER = "vdisk_nullio"
VENDOR = "SCST_FIO"
DEFAULT_SIZE = 2748779069440  # 2.5 TiB, SCST's default


def open_device(name: str, size: int = DEFAULT_SIZE, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    return BlockDevice(identity or Identity(name, vendor=VENDOR), NullBackend(size), settings)


def create(name: str, params: Mapping[str, str]) -> BlockDevice:
    size = int(params.get("size", DEFAULT_SIZE))
    if "size_mb" in params:
        size = int(params["size_mb"]) << 20
    return open_device(name, size, disk_settings(params), identity(name, params, VENDOR))
