"""Medium handling for disks: START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, READ DEFECT DATA.

A removable disk (SCST ``removable=1``) can be ejected with START STOP UNIT (LOEJ) and
then answers NOT READY / MEDIUM NOT PRESENT until loaded again, unless an initiator has
prevented removal.  A fixed disk accepts the commands and stays ready: it has nothing to spin.
Virtual media have no defects, so READ DEFECT DATA reports empty lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cdb import be
from .outcome import NO_DATA, Outcome
from .sense import ILLEGAL_REQUEST, CheckCondition, invalid_field_in_cdb
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

START_STOP_UNIT = 0x1B
PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
READ_DEFECT_DATA_10, READ_DEFECT_DATA_12 = 0x37, 0xB7
# POWER CONDITION values SBC-3 defines (START_VALID, ACTIVE, IDLE, STANDBY, LU_CONTROL,
# FORCE_IDLE_0, FORCE_STANDBY_0)
POWER_CONDITIONS = {0x0, 0x1, 0x2, 0x3, 0x7, 0xA, 0xB}


def medium_removal_prevented() -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x53, 0x02)


def start_stop_unit(device: BlockDevice, command: Command) -> Outcome:
    cdb = command.cdb
    power_condition = cdb[4] >> 4
    if power_condition not in POWER_CONDITIONS:
        raise invalid_field_in_cdb(4, 7)
    if power_condition:  # a power condition change: nothing to do, the LOEJ bit is ignored
        return NO_DATA
    load_eject, start = bool(cdb[4] & 0x02), bool(cdb[4] & 0x01)
    if load_eject and device.removable:
        if start:
            device.load_medium()
        else:
            if device.prevent_removal:
                raise medium_removal_prevented()
            device.eject_medium()
    return NO_DATA


def prevent_allow_medium_removal(device: BlockDevice, command: Command) -> Outcome:
    prevent = command.cdb[4] & 0x03
    if prevent > 1:
        raise invalid_field_in_cdb(4, 1)  # the obsolete changer forms
    device.prevent_removal = bool(prevent)
    return NO_DATA


def read_defect_data(device: BlockDevice, command: Command) -> Outcome:
    cdb = command.cdb
    if cdb[0] == READ_DEFECT_DATA_10:
        flags, allocation_length = cdb[2] & 0x1F, be(cdb, 7, 2)
        header = bytes([0, flags, 0, 0])
    else:
        flags, allocation_length = cdb[1] & 0x1F, be(cdb, 6, 4)
        header = bytes([0, flags, 0, 0, 0, 0, 0, 0])
    return respond(command, header, allocation_length)


MEDIUM_COMMANDS = {
    START_STOP_UNIT: start_stop_unit,
    PREVENT_ALLOW_MEDIUM_REMOVAL: prevent_allow_medium_removal,
    READ_DEFECT_DATA_10: read_defect_data,
    READ_DEFECT_DATA_12: read_defect_data,
}
