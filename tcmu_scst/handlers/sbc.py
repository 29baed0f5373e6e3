"""Block commands (SBC) for disks: capacity, READ/WRITE 6/10/12/16, SYNCHRONIZE CACHE.

READ and WRITE go straight between the TCMU data area and the backend (zero copy): the
command's iovecs are handed to ``preadv``/``pwritev`` as they are.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .cdb import be, rw_lba_and_blocks
from .outcome import DATA_IN_DONE as _DATA_IN_DONE
from .outcome import DATA_OUT_CONSUMED, NO_DATA, Deferred, Outcome, data_in_done
from .sense import invalid_field_in_cdb, lba_out_of_range, write_protected
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

READ_6, READ_10, READ_12, READ_16 = 0x08, 0x28, 0xA8, 0x88
WRITE_6, WRITE_10, WRITE_12, WRITE_16 = 0x0A, 0x2A, 0xAA, 0x8A
READ_CAPACITY_10 = 0x25
SERVICE_ACTION_IN_16 = 0x9E
READ_CAPACITY_16 = 0x10
SYNCHRONIZE_CACHE_10 = 0x35
SYNCHRONIZE_CACHE_16 = 0x91


# LBA and transfer length of the 10-, 12- and 16-byte READ/WRITE CDBs, in one unpack each
_RW_FIELDS = {10: struct.Struct(">2xIxH"), 12: struct.Struct(">2xII"), 16: struct.Struct(">2xQI")}


def checked_range(device: BlockDevice, command: Command) -> tuple[int, int]:
    """LBA and block count, refusing ranges past the end and protection information."""
    cdb = command.cdb
    if len(cdb) > 6 and cdb[1] & 0xE0:
        raise invalid_field_in_cdb(1, 7)  # RDPROTECT/WRPROTECT: the device has no PI
    fields = _RW_FIELDS.get(len(cdb))
    lba, blocks = fields.unpack_from(cdb) if fields else rw_lba_and_blocks(cdb)
    if lba + blocks > device.blocks:
        raise lba_out_of_range()
    return lba, blocks


def _trimmed(views: list[memoryview], length: int) -> list[memoryview]:
    """The first ``length`` bytes of a scattered buffer."""
    trimmed = []
    for view in views:
        if length <= 0:
            break
        trimmed.append(view if len(view) <= length else view[:length])
        length -= len(view)
    return trimmed


def read(device: BlockDevice, command: Command) -> Outcome | Deferred:
    """READ 6/10/12/16.  Tried at once without blocking (a page-cache or memory hit, the
    common case, costs no deferred function); otherwise handed back as a deferred read.
    The range check of :func:`checked_range` is written out: this runs for every READ."""
    if not device.ready:
        device.check_ready()
    cdb = command.cdb
    size = len(cdb)
    if size > 6 and cdb[1] & 0xE0:
        raise invalid_field_in_cdb(1, 7)  # RDPROTECT: the device has no PI
    fields = _RW_FIELDS.get(size)
    lba, blocks = fields.unpack_from(cdb) if fields else rw_lba_and_blocks(cdb)
    block_size = device.block_size
    backend = device.backend
    if lba + blocks > backend.size // block_size:
        raise lba_out_of_range()
    length = blocks * block_size
    views = command.iovecs
    if length != command.data_length:
        length = min(length, command.data_length)
        if length == 0:
            return NO_DATA
        views = _trimmed(views, length)
    offset = lba * block_size
    done = _DATA_IN_DONE.get(length) or data_in_done(length)
    try:
        backend.read(views, offset, length, True)
        return done
    except BlockingIOError:
        pass

    def run(nowait: bool) -> Outcome:
        backend.read(views, offset, length, nowait)
        return done

    return run


def checked_write(device: BlockDevice, command: Command) -> tuple[int, int]:
    """LBA and byte count of a command that writes: the device must be ready and writable,
    the range inside it, and the Data-Out at least as long as the blocks named."""
    if not device.ready:
        device.check_ready()
    if device.read_only:
        raise write_protected()
    lba, blocks = checked_range(device, command)
    length = blocks * device.block_size
    if length > command.data_length:
        raise invalid_field_in_cdb(len(command.cdb) - 2)  # more blocks than data sent
    return lba, length


def write(device: BlockDevice, command: Command) -> Outcome | Deferred:
    """WRITE 6/10/12/16, tried at once without blocking like :func:`read`.  The checks of
    :func:`checked_write` are written out: this runs for every WRITE."""
    if not device.ready:
        device.check_ready()
    if device.read_only:
        raise write_protected()
    cdb = command.cdb
    size = len(cdb)
    if size > 6 and cdb[1] & 0xE0:
        raise invalid_field_in_cdb(1, 7)  # WRPROTECT: the device has no PI
    fields = _RW_FIELDS.get(size)
    lba, blocks = fields.unpack_from(cdb) if fields else rw_lba_and_blocks(cdb)
    block_size = device.block_size
    backend = device.backend
    if lba + blocks > backend.size // block_size:
        raise lba_out_of_range()
    length = blocks * block_size
    if length > command.data_length:
        raise invalid_field_in_cdb(size - 2)  # more blocks than data sent
    if length == 0:
        return DATA_OUT_CONSUMED
    views = command.iovecs
    if length != command.data_length:
        views = _trimmed(views, length)
    offset = lba * block_size
    sync = device.write_through or (size > 6 and bool(cdb[1] & 0x08))  # FUA
    # COMPARE AND WRITE holds this lock from its read to its write: wait for it on an I/O
    # thread, never in the ring thread
    lock = device.atomic_lock
    if lock.acquire(False):
        try:
            backend.write(views, offset, length, True, sync)
            return DATA_OUT_CONSUMED
        except BlockingIOError:
            pass
        finally:
            lock.release()

    def run(nowait: bool) -> Outcome:
        if not lock.acquire(not nowait):
            raise BlockingIOError("COMPARE AND WRITE in progress")
        try:
            backend.write(views, offset, length, nowait, sync)
        finally:
            lock.release()
        return DATA_OUT_CONSUMED

    return run


def read_capacity_10(device: BlockDevice, command: Command) -> Outcome:
    last = device.blocks - 1
    data = min(last, 0xFFFFFFFF).to_bytes(4, "big") + device.block_size.to_bytes(4, "big")
    return respond(command, data, 8)


def read_capacity_16(device: BlockDevice, command: Command) -> Outcome:
    data = bytearray(32)
    data[0:8] = (device.blocks - 1).to_bytes(8, "big")
    data[8:12] = device.block_size.to_bytes(4, "big")
    data[13] = device.logical_blocks_per_physical_exponent
    if device.thin_provisioned:
        data[14] = 0x80 | (0x40 if device.deallocated_reads_zeros else 0)  # LBPME, LBPRZ
    return respond(command, bytes(data), be(command.cdb, 10, 4))


def synchronize_cache(device: BlockDevice, command: Command) -> Outcome | Deferred:
    if not device.ready:
        device.check_ready()
    lba = be(command.cdb, 2, 4 if len(command.cdb) == 10 else 8)
    if lba > device.blocks:
        raise lba_out_of_range()
    if device.nv_cache or device.write_through:
        return NO_DATA  # nothing is cached that could be lost
    backend = device.backend

    def run(nowait: bool) -> Outcome:
        if nowait:
            raise BlockingIOError("fdatasync blocks")
        backend.flush()
        return NO_DATA

    return run


BLOCK_COMMANDS = {
    READ_6: read, READ_10: read, READ_12: read, READ_16: read,
    WRITE_6: write, WRITE_10: write, WRITE_12: write, WRITE_16: write,
    READ_CAPACITY_10: read_capacity_10,
    SYNCHRONIZE_CACHE_10: synchronize_cache,
    SYNCHRONIZE_CACHE_16: synchronize_cache,
}
