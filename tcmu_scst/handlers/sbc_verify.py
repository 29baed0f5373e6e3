"""Block commands that check the medium: VERIFY, WRITE AND VERIFY, PRE-FETCH (10/12/16).

VERIFY with BYTCHK compares the initiator's Data-Out against what the medium holds and
reports the first differing byte's offset in a MISCOMPARE sense's INFORMATION field, which
is how an initiator learns where its data and the disk's part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .outcome import DATA_OUT_CONSUMED, NO_DATA, Deferred, Outcome
from .sbc import checked_range, checked_write
from .sense import MISCOMPARE, CheckCondition, invalid_field_in_cdb

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

VERIFY_10, VERIFY_12, VERIFY_16 = 0x2F, 0xAF, 0x8F
WRITE_AND_VERIFY_10, WRITE_AND_VERIFY_12, WRITE_AND_VERIFY_16 = 0x2E, 0xAE, 0x8E
PRE_FETCH_10, PRE_FETCH_16 = 0x34, 0x90

BYTCHK_NONE = 0  # verify the medium only
BYTCHK_COMPARE = 1  # Data-Out holds every block to compare
BYTCHK_ONE_BLOCK = 3  # Data-Out holds one block, compared with each block of the range


def _read_medium(device: BlockDevice, lba: int, length: int) -> bytes:
    buffer = bytearray(length)
    device.backend.read([memoryview(buffer)], lba * device.block_size, length, False)
    return bytes(buffer)


def _compare(expected: bytes, actual: bytes) -> None:
    """MISCOMPARE DURING VERIFY OPERATION at the first differing byte, if any."""
    if expected != actual:
        offset = next(i for i, (a, b) in enumerate(zip(expected, actual, strict=True)) if a != b)
        raise CheckCondition(MISCOMPARE, 0x1D, 0, information=offset)


def verify(device: BlockDevice, command: Command) -> Outcome | Deferred:
    if not device.ready:
        device.check_ready()
    cdb = command.cdb
    byte_check = (cdb[1] >> 1) & 0x3
    if byte_check == 2:
        raise invalid_field_in_cdb(1, 2)
    lba, blocks = checked_range(device, command)
    if blocks == 0:
        return DATA_OUT_CONSUMED
    length = blocks * device.block_size
    expected_length = device.block_size if byte_check == BYTCHK_ONE_BLOCK else length
    if byte_check != BYTCHK_NONE and command.data_length < expected_length:
        raise invalid_field_in_cdb(len(cdb) - 2)
    expected = command.read_data_out(expected_length) if byte_check else b""

    def run(nowait: bool) -> Outcome:
        if nowait:
            raise BlockingIOError("verification reads the medium")
        medium = _read_medium(device, lba, length)
        if byte_check == BYTCHK_COMPARE:
            _compare(expected, medium)
        elif byte_check == BYTCHK_ONE_BLOCK:
            _compare(expected * blocks, medium)
        return DATA_OUT_CONSUMED

    return run


def write_and_verify(device: BlockDevice, command: Command) -> Outcome | Deferred:
    lba, length = checked_write(device, command)
    if length == 0:
        return DATA_OUT_CONSUMED
    data = command.read_data_out(length)

    def run(nowait: bool) -> Outcome:
        if nowait:
            raise BlockingIOError("write and verify waits for the medium")
        device.backend.write([memoryview(data)], lba * device.block_size, length, False, True)
        if device.backend.stores_data:  # nullio keeps nothing to verify
            _compare(data, _read_medium(device, lba, length))
        return DATA_OUT_CONSUMED

    return run


def pre_fetch(device: BlockDevice, command: Command) -> Outcome:
    """Range-checked and acknowledged: the page cache decides what stays in memory."""
    if not device.ready:
        device.check_ready()
    checked_range(device, command)
    return NO_DATA


VERIFY_COMMANDS = {
    VERIFY_10: verify, VERIFY_12: verify, VERIFY_16: verify,
    WRITE_AND_VERIFY_10: write_and_verify, WRITE_AND_VERIFY_12: write_and_verify,
    WRITE_AND_VERIFY_16: write_and_verify,
    PRE_FETCH_10: pre_fetch, PRE_FETCH_16: pre_fetch,
}
