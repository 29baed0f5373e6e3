"""COMPARE AND WRITE: the read, the comparison and the write as one atomic step.

Clusters (VMware's ATS, cluster file systems) use it as a lock on disk blocks, so no other
write to the device may land between our read and our write.  Every write path takes the
device's ``atomic_lock`` for the moment it writes, and this command holds it throughout; the
ring thread never waits for it (its writes go to an I/O thread when the lock is taken).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cdb import be
from .outcome import DATA_OUT_CONSUMED, Deferred, Outcome
from .sense import invalid_field_in_cdb, lba_out_of_range, miscompare, write_protected

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

COMPARE_AND_WRITE = 0x89
MAX_COMPARE_AND_WRITE_BLOCKS = 1  # reported in the Block Limits VPD page


def compare_and_write(device: BlockDevice, command: Command) -> Outcome | Deferred:
    cdb = command.cdb
    if cdb[1] & 0xE0:
        raise invalid_field_in_cdb(1, 7)  # WRPROTECT: no protection information
    if not device.ready:
        device.check_ready()
    if device.read_only:
        raise write_protected()
    lba = be(cdb, 2, 8)
    blocks = cdb[13]
    if blocks > MAX_COMPARE_AND_WRITE_BLOCKS:
        raise invalid_field_in_cdb(13)
    if lba + blocks > device.blocks:
        raise lba_out_of_range()
    if blocks == 0:
        if command.data_length:  # data sent for no blocks: the CDB and the transfer disagree
            raise invalid_field_in_cdb(13)
        return DATA_OUT_CONSUMED
    size = device.block_size
    length = blocks * size
    if command.data_length != 2 * length:
        # Data-Out is the verify and the write data, nothing else: with more or less, which
        # bytes are which is unknown, and comparing a guess could write the wrong data
        raise invalid_field_in_cdb(13)
    data = command.read_data_out(2 * length)
    expected, replacement = data[:length], data[length:]
    offset = lba * size
    backend = device.backend
    lock = device.atomic_lock
    sync = device.write_through or bool(cdb[1] & 0x08)

    in_memory = backend.in_memory

    def run(nowait: bool) -> Outcome:
        if nowait and not in_memory:
            raise BlockingIOError("reading the medium may block")
        if not lock.acquire(not nowait):
            raise BlockingIOError("another COMPARE AND WRITE holds the device")
        try:
            current = bytearray(length)
            backend.read([memoryview(current)], offset, length, False)
            if current != expected:
                first = next(i for i in range(length) if current[i] != expected[i])
                raise miscompare(first)
            backend.write([memoryview(replacement)], offset, length, False, sync)
        finally:
            lock.release()
        return DATA_OUT_CONSUMED

    return run


COMPARE_COMMANDS = {COMPARE_AND_WRITE: compare_and_write}
