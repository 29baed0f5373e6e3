"""Handler name → its declaration, in the module that builds its devices.

Each handler module defines ``DECLARATION`` (a ``HandlerDeclaration``: its SCST name,
parameters and ``create(name, params)``); listing modules by import path keeps this table
the only place that knows them all, and lets a worker import only the handlers it serves.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from .api import HandlerDeclaration
from .disk import BlockDevice, ScsiDevice
from .identity import Identity
from .params import identity

HANDLER_MODULES = {
    "vdisk_fileio": "tcmu_scst.handlers.vdisk_fileio",
    "vdisk_blockio": "tcmu_scst.handlers.vdisk_blockio",
    "vdisk_nullio": "tcmu_scst.handlers.vdisk_nullio",
    "vcdrom": "tcmu_scst.handlers.vcdrom",
}


class UnknownHandlerError(ValueError):
    pass


def declaration_of(handler: str) -> HandlerDeclaration:
    module_name = HANDLER_MODULES.get(handler)
    if module_name is None:
        raise UnknownHandlerError(
            f"unknown handler {handler!r}; known: {', '.join(HANDLER_MODULES)}")
    return importlib.import_module(module_name).DECLARATION


def declarations() -> dict[str, HandlerDeclaration]:
    return {handler: declaration_of(handler) for handler in HANDLER_MODULES}


def handler_names() -> tuple[str, ...]:
    return tuple(HANDLER_MODULES)


def open_scsi_device(handler: str, name: str, params: Mapping[str, str]) -> ScsiDevice:
    return declaration_of(handler).create(name, params)


def device_identity(handler: str, name: str, params: Mapping[str, str]) -> Identity:
    """The identity a device of ``handler`` reports, from its parameters alone (without
    opening its backing store): what names it in EXTENDED COPY."""
    return identity(name, params, declaration_of(handler).vendor)


def open_disk(handler: str, name: str, params: Mapping[str, str]) -> BlockDevice:
    """A disk to copy to or from (EXTENDED COPY); ValueError for a device that is none."""
    device = open_scsi_device(handler, name, params)
    if not isinstance(device, BlockDevice):
        raise ValueError(f"{name} is no disk ({handler})")
    return device
