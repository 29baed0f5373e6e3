"""Thin provisioning: UNMAP, WRITE SAME (with its UNMAP bit), GET LBA STATUS.

A thin-provisioned disk releases storage when the initiator says blocks are unused (file
hole punching, or a discard on a block device) and tells it, block by block, what is still
allocated.  Released blocks read back as zeros (LBPRZ), so WRITE SAME of a zero block with
UNMAP set may release instead of writing — and only then, and only where released blocks
are known to read as zeros (files, not discards on real disks): otherwise data would change.
Anchored deallocation is not offered (ANC_SUP=0), so ANCHOR is refused.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from .cdb import be
from .outcome import DATA_OUT_CONSUMED, NO_DATA, Deferred, Outcome
from .sbc import checked_range
from .sense import (
    invalid_field_in_cdb,
    invalid_field_in_parameter_list,
    invalid_opcode,
    lba_out_of_range,
    parameter_list_length_error,
    write_protected,
)
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

UNMAP = 0x42
WRITE_SAME_10, WRITE_SAME_16 = 0x41, 0x93
GET_LBA_STATUS = 0x12  # service action of SERVICE ACTION IN(16)

MAX_UNMAP_DESCRIPTORS = 256
MAX_WRITE_SAME_BYTES = 64 << 20  # one command writes at most this much
MAPPED, DEALLOCATED = 0, 1
MAX_LBA_STATUS_DESCRIPTORS = 512

_UNMAP_DESCRIPTOR = struct.Struct(">QI4x")


def _writable(device: BlockDevice) -> None:
    if not device.ready:
        device.check_ready()
    if device.read_only:
        raise write_protected()


def _blocking(device: BlockDevice, nowait: bool) -> None:
    """Metadata changes on a real file system may sleep: run them on an I/O thread."""
    if nowait and not device.backend.in_memory:
        raise BlockingIOError("deallocation may block")


def unmap(device: BlockDevice, command: Command) -> Outcome | Deferred:
    if not device.thin_provisioned:
        raise invalid_opcode()
    cdb = command.cdb
    if cdb[1] & 0x01:
        raise invalid_field_in_cdb(1, 0)  # ANCHOR: anchored blocks are not supported
    _writable(device)
    list_length = min(be(cdb, 7, 2), command.data_length)
    if list_length == 0:
        return DATA_OUT_CONSUMED
    if list_length < 8:
        raise parameter_list_length_error()
    parameters = command.read_data_out(list_length)
    descriptor_bytes = min(be(parameters, 2, 2), list_length - 8)
    count = descriptor_bytes // 16  # an incomplete last descriptor is ignored (SBC-3)
    if count > MAX_UNMAP_DESCRIPTORS:
        raise invalid_field_in_parameter_list(2)
    ranges = []
    total = 0
    for index in range(count):
        lba, blocks = _UNMAP_DESCRIPTOR.unpack_from(parameters, 8 + 16 * index)
        if lba + blocks > device.blocks:
            raise lba_out_of_range()
        total += blocks
        if blocks:
            ranges.append((lba, blocks))
    if total > device.max_unmap_blocks:
        raise invalid_field_in_parameter_list(8)
    if not ranges:
        return DATA_OUT_CONSUMED
    size = device.block_size

    def run(nowait: bool) -> Outcome:
        _blocking(device, nowait)
        for lba, blocks in ranges:
            device.backend.deallocate(lba * size, blocks * size)
        return DATA_OUT_CONSUMED

    return run


def write_same(device: BlockDevice, command: Command) -> Outcome | Deferred:
    cdb = command.cdb
    sixteen = len(cdb) == 16
    if cdb[1] & 0xE0:
        raise invalid_field_in_cdb(1, 7)  # WRPROTECT: no protection information
    if cdb[1] & 0x10:
        raise invalid_field_in_cdb(1, 4)  # ANCHOR
    no_data_out = sixteen and bool(cdb[1] & 0x01)  # NDOB: the block is all zeros
    if cdb[1] & 0x08 and not device.thin_provisioned:
        raise invalid_field_in_cdb(1, 3)  # UNMAP on a disk without LBPWS (as LIO answers)
    # releasing instead of writing zeros is only honest where released blocks read zeros
    release = bool(cdb[1] & 0x08) and device.thin_provisioned and \
        device.deallocated_reads_zeros
    _writable(device)
    lba, blocks = checked_range(device, command)
    if blocks == 0:
        raise invalid_field_in_cdb(13 if sixteen else 7)  # WSNZ: zero means nothing here
    size = device.block_size
    if blocks * size > MAX_WRITE_SAME_BYTES:
        raise invalid_field_in_cdb(10 if sixteen else 7)
    if no_data_out:
        pattern = bytes(size)
    else:
        if command.data_length != size:  # Data-Out is the one block to repeat
            raise invalid_field_in_cdb(13 if sixteen else 7)
        pattern = command.read_data_out(size)
    zeros = not any(pattern)
    backend = device.backend

    def run(nowait: bool) -> Outcome:
        _blocking(device, nowait)
        if release and zeros:
            backend.deallocate(lba * size, blocks * size)
            return DATA_OUT_CONSUMED
        chunk_blocks = max(1, min(blocks, (1 << 20) // size))
        chunk = memoryview(pattern * chunk_blocks)
        done = 0
        while done < blocks:
            step = min(chunk_blocks, blocks - done)
            backend.write([chunk[: step * size]], (lba + done) * size, step * size, False,
                          device.write_through)
            done += step
        return DATA_OUT_CONSUMED

    return run


def block_runs(extents: list[tuple[int, int, bool]], block_size: int,
               first_lba: int) -> list[tuple[int, int, bool]]:
    """Byte extents → (lba, blocks, mapped) runs: a block is deallocated only when wholly
    inside a hole, so a partly written block always reports mapped."""
    runs: list[tuple[int, int, bool]] = []
    for offset, length, mapped in extents:
        end = offset + length
        if mapped:
            start, stop = offset // block_size, -(-end // block_size)
        else:
            start, stop = -(-offset // block_size), end // block_size
        start = max(start, first_lba)
        if runs and start < runs[-1][0] + runs[-1][1]:
            start = runs[-1][0] + runs[-1][1]  # the previous mapped run rounded up over it
        if stop <= start:
            continue
        if runs and start > runs[-1][0] + runs[-1][1]:  # gap from rounding: mapped
            gap_start = runs[-1][0] + runs[-1][1]
            runs.append((gap_start, start - gap_start, True))
        if runs and runs[-1][2] == mapped and runs[-1][0] + runs[-1][1] == start:
            previous = runs.pop()
            runs.append((previous[0], previous[1] + stop - start, mapped))
        else:
            runs.append((start, stop - start, mapped))
    merged: list[tuple[int, int, bool]] = []
    for run in runs:
        if merged and merged[-1][2] == run[2]:
            merged[-1] = (merged[-1][0], merged[-1][1] + run[1], run[2])
        else:
            merged.append(run)
    return merged


def get_lba_status(device: BlockDevice, command: Command) -> Outcome:
    cdb = command.cdb
    if not device.ready:
        device.check_ready()
    start = be(cdb, 2, 8)
    allocation_length = be(cdb, 10, 4)
    if start >= device.blocks:
        raise lba_out_of_range()
    if allocation_length == 0:
        return NO_DATA
    size = device.block_size
    wanted = min(MAX_LBA_STATUS_DESCRIPTORS, max(1, (allocation_length - 8) // 16))
    span = min(device.blocks - start, 1 << 24)  # how far ahead one answer looks
    extents = device.backend.extents(start * size, span * size)
    if not device.thin_provisioned:
        extents = [(start * size, span * size, True)]
    runs = block_runs(extents, size, start)[:wanted] or [(start, span, True)]
    body = b"".join(
        lba.to_bytes(8, "big") + min(blocks, 0xFFFFFFFF).to_bytes(4, "big")
        + bytes([MAPPED if mapped else DEALLOCATED, 0, 0, 0])
        for lba, blocks, mapped in runs)
    header = (len(body) + 4).to_bytes(4, "big") + bytes(4)
    return respond(command, header + body, allocation_length)


PROVISIONING_COMMANDS = {UNMAP: unmap, WRITE_SAME_10: write_same, WRITE_SAME_16: write_same}
