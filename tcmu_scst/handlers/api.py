"""The public handler API: everything a dev handler, built in or installed, is written with.

A handler is a :class:`HandlerDeclaration` (its SCST name, SCSI type, parameters with
their defaults, modes, ``[key]`` rules and help, and its ``create``) registered under the
entry-point group ``tcmu_scst.handlers``, plus the device ``create`` builds: usually a
:class:`BlockDevice` over a :class:`Backend`, the few operations a store provides.
``COMMON_DISK`` declares the parameters every SCST vdisk has (blocksize, read_only,
removable, rotational, tst and the INQUIRY identity), for a disk handler to list in its own.
docs/handler-api.md describes the contract: what runs in the daemon and what in the
worker, how errors become sense data, what is stable.

Import from this module only; the modules it gathers from are the implementation and may
move.  It is not imported by the management layer itself, which needs the declarations
alone (``handlers.declaration``) and stays light.
"""

from __future__ import annotations

from .backend import Backend
from .declaration import (
    CD_ROM_DEVICE,
    DIRECT_ACCESS_DEVICE,
    INERT,
    Access,
    DeviceFactory,
    HandlerDeclaration,
    Key,
    Param,
    ScsiType,
    flag_param,
)
from .disk import BlockDevice, DiskSettings, ScsiDevice
from .identity import Identity
from .params import block_size, disk_settings, flag, identity, invalid, number
from .sense import (
    CheckCondition,
    invalid_field_in_cdb,
    lba_out_of_range,
    medium_error,
    miscompare,
    write_protected,
)
from .vdisk_attributes import COMMON_DISK

__all__ = [
    "CD_ROM_DEVICE", "COMMON_DISK", "DIRECT_ACCESS_DEVICE", "INERT", "Access", "Backend",
    "BlockDevice", "CheckCondition", "DeviceFactory", "DiskSettings", "HandlerDeclaration",
    "Identity", "Key", "Param", "ScsiDevice", "ScsiType", "block_size", "disk_settings", "flag",
    "flag_param", "identity", "invalid", "invalid_field_in_cdb", "lba_out_of_range",
    "medium_error", "miscompare", "number", "write_protected",
]
