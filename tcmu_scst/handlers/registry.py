"""Handler name → device factory, so a worker can build a device from a plain description.

Parameter values arrive as the strings SCST's grammar produces; the full declared parameter
set (validation, help texts, defaults) belongs to the management layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import vdisk_fileio, vdisk_nullio
from .disk import BlockDevice, DiskSettings, ScsiDevice

FLAG_PARAMETERS = ("read_only", "write_through", "nv_cache", "removable", "rotational")


class UnknownHandlerError(ValueError):
    pass


def disk_settings(params: Mapping[str, str]) -> DiskSettings:
    settings = DiskSettings()
    if "blocksize" in params:
        settings.block_size = int(params["blocksize"])
    for flag in FLAG_PARAMETERS:
        if flag in params:
            setattr(settings, flag, bool(int(params[flag]) & 1))
    if "tst" in params:
        settings.tst = int(params["tst"])
    return settings


def _fileio(name: str, params: Mapping[str, str]) -> BlockDevice:
    return vdisk_fileio.open_device(name, params["filename"], disk_settings(params))


def _nullio(name: str, params: Mapping[str, str]) -> BlockDevice:
    size = int(params.get("size", vdisk_nullio.DEFAULT_SIZE))
    if "size_mb" in params:
        size = int(params["size_mb"]) << 20
    return vdisk_nullio.open_device(name, size, disk_settings(params))


FACTORIES: dict[str, Callable[[str, Mapping[str, str]], ScsiDevice]] = {
    vdisk_fileio.HANDLER: _fileio,
    vdisk_nullio.HANDLER: _nullio,
}


def open_scsi_device(handler: str, name: str, params: Mapping[str, str]) -> ScsiDevice:
    factory = FACTORIES.get(handler)
    if factory is None:
        raise UnknownHandlerError(f"unknown handler {handler!r}; known: {', '.join(FACTORIES)}")
    return factory(name, params)
