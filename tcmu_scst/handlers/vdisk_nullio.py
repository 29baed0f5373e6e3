"""SCST's ``vdisk_nullio``: a disk with no storage; reads return zeros, writes vanish."""

from __future__ import annotations

from .backend import NullBackend
from .disk import BlockDevice, DiskSettings
from .identity import Identity

HANDLER = "vdisk_nullio"
DEFAULT_SIZE = 2748779069440  # 2.5 TiB, SCST's default


def open_device(name: str, size: int = DEFAULT_SIZE, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    return BlockDevice(identity or Identity(name, vendor="SCST_FIO"), NullBackend(size), settings)
