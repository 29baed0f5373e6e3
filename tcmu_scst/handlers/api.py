"""The public handler API: everything a dev handler, built in or installed, is written with.

A handler is a :class:`HandlerDeclaration` (its SCST name, SCSI type, parameters with
their defaults, modes, ``[key]`` rules and help, and its ``create``) registered under the
entry-point group ``tcmu_scst.handlers``, plus the device ``create`` builds: usually a
:class:`BlockDevice` over a :class:`Backend`, the few operations a store provides.
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
    Check,
    DeviceFactory,
    HandlerDeclaration,
    Key,
    Param,
    Parameters,
    ScsiType,
    flag_param,
)
from .disk import BlockDevice, DiskSettings, ScsiDevice
from .identity import Identity
from .params import disk_settings, identity, read_only_excludes_caching
from .sense import (
    CheckCondition,
    invalid_field_in_cdb,
    lba_out_of_range,
    medium_error,
    miscompare,
    write_protected,
)
from .values import (
    Parser,
    absolute_path,
    as_text,
    at_least,
    at_most_characters,
    block_size_bytes,
    invalid,
    one_bit,
    one_of,
    whole_number,
)
from .vdisk_attributes import (
    BLOCK_SIZE,
    COMMON_DISK,
    DISK_CHECKS,
    IDENTITY,
    ROTATIONAL,
    TASK_SET_TYPE,
)

__all__ = [
    "BLOCK_SIZE", "CD_ROM_DEVICE", "COMMON_DISK", "DIRECT_ACCESS_DEVICE", "DISK_CHECKS",
    "IDENTITY", "INERT", "ROTATIONAL", "TASK_SET_TYPE", "Access", "Backend", "BlockDevice", "Check",
    "CheckCondition", "DeviceFactory", "DiskSettings", "HandlerDeclaration", "Identity", "Key",
    "Param", "Parameters", "Parser", "ScsiDevice", "ScsiType", "absolute_path", "as_text",
    "at_least", "at_most_characters", "block_size_bytes", "disk_settings", "flag_param",
    "identity", "invalid", "invalid_field_in_cdb", "lba_out_of_range", "medium_error",
    "miscompare", "one_bit", "one_of", "read_only_excludes_caching", "whole_number",
    "write_protected",
]
