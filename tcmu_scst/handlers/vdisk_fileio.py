"""SCST's ``vdisk_fileio``: a disk stored in a file (or a block device used as a file)."""

from __future__ import annotations

from .backend import open_file_backend
from .disk import BlockDevice, DiskSettings
from .identity import Identity

HANDLER = "vdisk_fileio"


def open_device(name: str, filename: str, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    backend = open_file_backend(filename, read_only=settings.read_only)
    return BlockDevice(identity or Identity(name, vendor="SCST_FIO"), backend, settings)
