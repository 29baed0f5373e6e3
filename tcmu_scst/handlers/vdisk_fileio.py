"""SCST's ``vdisk_fileio``: a disk stored in a file (or a block device used as a file)."""

from __future__ import annotations

from collections.abc import Mapping

from .backend import open_file_backend
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity

HANDLER = "vdisk_fileio"
VENDOR = "SCST_FIO"


def open_device(name: str, filename: str, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    backend = open_file_backend(filename, read_only=settings.read_only)
    return BlockDevice(identity or Identity(name, vendor=VENDOR), backend, settings)


def create(name: str, params: Mapping[str, str]) -> BlockDevice:
    return open_device(name, params["filename"], disk_settings(params),
                       identity(name, params, VENDOR))
