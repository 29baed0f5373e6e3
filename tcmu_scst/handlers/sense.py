"""SAM status codes and fixed-format sense data, and the exception handlers raise to use them.

Command code signals an error by raising :class:`CheckCondition`; the dispatcher turns it into
a CHECK CONDITION response with sense built here, so every error path produces well-formed
sense without each command building bytes itself.
"""

from __future__ import annotations

# SAM status
GOOD = 0x00
CHECK_CONDITION = 0x02
BUSY = 0x08
RESERVATION_CONFLICT = 0x18
TASK_SET_FULL = 0x28

# sense keys
NO_SENSE = 0x0
RECOVERED_ERROR = 0x1
NOT_READY = 0x2
MEDIUM_ERROR = 0x3
HARDWARE_ERROR = 0x4
ILLEGAL_REQUEST = 0x5
UNIT_ATTENTION = 0x6
DATA_PROTECT = 0x7
ABORTED_COMMAND = 0xB
MISCOMPARE = 0xE

FIXED_SENSE_LENGTH = 18


class CheckCondition(Exception):
    """Complete the command with CHECK CONDITION and this sense."""

    def __init__(self, key: int, asc: int, ascq: int = 0, information: int | None = None,
                 field_pointer: int | None = None, bit_pointer: int | None = None,
                 in_cdb: bool = True):
        super().__init__(f"sense {key:#x}/{asc:#04x}/{ascq:#04x}")
        self.key = key
        self.asc = asc
        self.ascq = ascq
        self.information = information
        self.field_pointer = field_pointer
        self.bit_pointer = bit_pointer
        self.in_cdb = in_cdb

    def sense(self) -> bytes:
        return fixed_sense(self.key, self.asc, self.ascq, self.information, self.field_pointer,
                           self.bit_pointer, self.in_cdb)


def fixed_sense(key: int, asc: int, ascq: int = 0, information: int | None = None,
                field_pointer: int | None = None, bit_pointer: int | None = None,
                in_cdb: bool = True) -> bytes:
    """Fixed-format (0x70) sense data, current error, 18 bytes."""
    sense = bytearray(FIXED_SENSE_LENGTH)
    sense[0] = 0x70
    sense[2] = key & 0x0F
    if information is not None:
        sense[0] |= 0x80  # VALID: the INFORMATION field means something
        sense[3:7] = (information & 0xFFFFFFFF).to_bytes(4, "big")
    sense[7] = FIXED_SENSE_LENGTH - 8
    sense[12] = asc
    sense[13] = ascq
    if field_pointer is not None:
        sense[15] = 0x80 | (0x40 if in_cdb else 0)
        if bit_pointer is not None:
            sense[15] |= 0x08 | (bit_pointer & 0x7)
        sense[16:18] = field_pointer.to_bytes(2, "big")
    return bytes(sense)


def invalid_field_in_cdb(byte: int, bit: int | None = None) -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x24, 0, field_pointer=byte, bit_pointer=bit)


def invalid_opcode() -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x20, 0, field_pointer=0)


def lba_out_of_range() -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x21, 0)


def write_protected() -> CheckCondition:
    return CheckCondition(DATA_PROTECT, 0x27, 0)


def internal_target_failure() -> CheckCondition:
    return CheckCondition(HARDWARE_ERROR, 0x44, 0)


def medium_error(write: bool, lba: int | None = None) -> CheckCondition:
    """Unrecovered read error (11/00) or write error (0C/00), with the LBA when known."""
    return CheckCondition(MEDIUM_ERROR, 0x0C if write else 0x11, 0, information=lba)


def invalid_field_in_parameter_list(byte: int | None = None,
                                    bit: int | None = None) -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x26, 0, field_pointer=byte, bit_pointer=bit,
                          in_cdb=False)


def parameter_list_length_error() -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x1A, 0)


def miscompare(offset: int) -> CheckCondition:
    """MISCOMPARE DURING VERIFY OPERATION, INFORMATION = offset of the first differing byte."""
    return CheckCondition(MISCOMPARE, 0x1D, 0, information=offset)
