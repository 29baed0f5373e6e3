"""SCST's ``vdisk_fileio``: a disk stored in a file (or a block device used as a file)."""

from __future__ import annotations

import errno
from collections.abc import Mapping

from .backend import open_file_backend
from .backing_files import check_backing_path
from .disk import BlockDevice, DiskSettings
from .identity import Identity
from .params import disk_settings, identity

HANDLER = "vdisk_fileio"
VENDOR = "SCST_FIO"


def open_device(name: str, filename: str, settings: DiskSettings | None = None,
                identity: Identity | None = None) -> BlockDevice:
    settings = settings or DiskSettings()
    check_backing_path(filename)
    backend = open_file_backend(filename, read_only=settings.read_only,
                                o_direct=settings.o_direct)
    try:
        return BlockDevice(identity or Identity(name, vendor=VENDOR), backend, settings)
    except BaseException:
        backend.close()  # a refused device keeps no descriptor open
        raise


def create(name: str, params: Mapping[str, str]) -> BlockDevice:
    if not params.get("filename"):
        raise OSError(errno.EINVAL, "File name required: add filename=/absolute/path")
    if not params["filename"].startswith("/"):
        raise OSError(errno.EINVAL, f"filename {params['filename']!r} must be absolute")
    return open_device(name, params["filename"], disk_settings(params),
                       identity(name, params, VENDOR))
