"""MODE SELECT (6/10) and LOG SENSE.

MODE SELECT changes only what MODE SENSE's changeable mask says may change (today: the
caching page's WCE bit, i.e. write-back or write-through); anything else that differs from
the current values is refused with INVALID FIELD IN PARAMETER LIST pointing at the byte, so
an initiator never believes a setting took effect when it did not.  Settings are not saved
(SP=1 is refused).  LOG SENSE offers the list of supported pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cdb import be
from .outcome import DATA_OUT_CONSUMED, Outcome
from .sense import (
    invalid_field_in_cdb,
    invalid_field_in_parameter_list,
    parameter_list_length_error,
)
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import ScsiDevice

MODE_SELECT_6, MODE_SELECT_10 = 0x15, 0x55
LOG_SENSE = 0x4D
SUPPORTED_LOG_PAGES = 0x00


def mode_select(device: ScsiDevice, command: Command) -> Outcome:
    cdb = command.cdb
    ten_byte = cdb[0] == MODE_SELECT_10
    if cdb[1] & 0x01:
        raise invalid_field_in_cdb(1, 0)  # SP: nothing is saved across power cycles
    list_length = be(cdb, 7, 2) if ten_byte else cdb[4]
    list_length = min(list_length, command.data_length)
    if list_length == 0:
        return DATA_OUT_CONSUMED
    header_length = 8 if ten_byte else 4
    if list_length < header_length:
        raise parameter_list_length_error()
    data = command.read_data_out(list_length)
    descriptor_length = be(data, 6, 2) if ten_byte else data[3]
    position = header_length
    if descriptor_length:
        descriptor = data[position : position + descriptor_length]
        expected = device.block_descriptor()
        if len(descriptor) != len(expected) or descriptor[-3:] != expected[-3:]:
            raise invalid_field_in_parameter_list(position)  # the block size cannot change
        position += descriptor_length
    current = device.mode_pages(changeable=False)
    changeable = device.mode_pages(changeable=True)
    changes: list[tuple[int, bytes]] = []
    while position < list_length:
        if position + 2 > list_length:
            raise parameter_list_length_error()
        code = data[position] & 0x3F
        if data[position] & 0x40 or code not in current:
            raise invalid_field_in_parameter_list(position)  # subpages or unknown page
        page = data[position : position + 2 + data[position + 1]]
        mine, mask = current[code], changeable[code]
        if len(page) != len(mine):
            raise invalid_field_in_parameter_list(position + 1)
        for index in range(2, len(page)):
            if (page[index] ^ mine[index]) & ~mask[index] & 0xFF:
                raise invalid_field_in_parameter_list(position + index)
        changes.append((code, page))
        position += len(page)
    for code, page in changes:
        device.apply_mode_page(code, page)
    return DATA_OUT_CONSUMED


def log_sense(device: ScsiDevice, command: Command) -> Outcome:
    cdb = command.cdb
    if cdb[1] & 0x01:
        raise invalid_field_in_cdb(1, 0)  # SP: no saved parameters
    page_code, subpage = cdb[2] & 0x3F, cdb[3]
    allocation_length = be(cdb, 7, 2)
    if page_code != SUPPORTED_LOG_PAGES:
        raise invalid_field_in_cdb(2, 5)
    if subpage == 0x00:
        body = bytes([SUPPORTED_LOG_PAGES])
    elif subpage == 0xFF:  # supported pages and subpages
        body = bytes([SUPPORTED_LOG_PAGES, 0x00, SUPPORTED_LOG_PAGES, 0xFF])
        page_code |= 0x40
    else:
        raise invalid_field_in_cdb(3)
    header = bytes([page_code, subpage]) + len(body).to_bytes(2, "big")
    return respond(command, header + body, allocation_length)


PAGE_COMMANDS = {MODE_SELECT_6: mode_select, MODE_SELECT_10: mode_select, LOG_SENSE: log_sense}
