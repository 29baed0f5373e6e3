"""EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: block-to-block copies between our disks.

The initiator names source and destination by a designator from their Device Identification
VPD pages, so a copy never moves data through the initiator (VMware's XCOPY offload,
sg_xcopy).  Under the daemon, the devices a copy may name are SCST's copy manager's, read
from the reach directory the daemon keeps (:mod:`copy_reach`, with SCST's access rule); a
worker started without one (standalone, tests) reaches the disks of its own process.  Only
identification target descriptors (E4h) and block-to-block segments (02h) are offered,
which is what those initiators send.

Copy status is held for RECEIVE COPY RESULTS per list identifier.  SPC ties held status to
the I_T nexus, which TCMU never shows us; a status is therefore dropped once reported or after
HOLD_SECONDS, so a later session never reads a stale one.
"""

from __future__ import annotations

import logging
import struct
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cdb import be
from .copy_reach import DiskOpener, ReachTable, Unreachable, close_disks
from .outcome import DATA_OUT_CONSUMED, Deferred, Outcome
from .sense import (
    ILLEGAL_REQUEST,
    CheckCondition,
    invalid_field_in_cdb,
    invalid_field_in_parameter_list,
    parameter_list_length_error,
    write_protected,
)
from .spc import respond

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import BlockDevice

EXTENDED_COPY, RECEIVE_COPY_RESULTS = 0x83, 0x84
LID1 = 0x00
COPY_STATUS, OPERATING_PARAMETERS = 0x00, 0x03
IDENTIFICATION_DESCRIPTOR = 0xE4
BLOCK_TO_BLOCK = 0x02
TARGET_DESCRIPTOR_LENGTH = 32
HEADER_LENGTH = 16
MAX_TARGET_DESCRIPTORS = 4
MAX_SEGMENT_DESCRIPTORS = 16
MAX_DESCRIPTOR_LIST_LENGTH = MAX_TARGET_DESCRIPTORS * 32 + MAX_SEGMENT_DESCRIPTORS * 28
MAX_SEGMENT_BYTES = 64 << 20
COPY_CHUNK_BYTES = 1 << 20
HOLD_SECONDS = 10.0
COPY_ABORTED = 0x0A
COMPLETED_GOOD, COMPLETED_WITH_ERROR = 0x01, 0x02

_SEGMENT = struct.Struct(">BBHHH2xHQQ")  # type, flags, length, src, dst, blocks, lbas

# Every disk of this process by (designator type, designator): the reach without a table.
_disks: weakref.WeakValueDictionary[tuple[int, bytes], BlockDevice] = \
    weakref.WeakValueDictionary()
log = logging.getLogger(__name__)


@dataclass
class _Reach:
    """The copy manager's reach, when the daemon keeps one (see configure_reach)."""

    table: ReachTable | None = None


_reach = _Reach()


def register(device: BlockDevice) -> None:
    """Make ``device`` reachable as a copy source or destination within this process."""
    for kind, value in device.identity.designators().items():
        _disks[(kind, value)] = device


def configure_reach(directory: str | None, opener: DiskOpener | None = None) -> None:
    """Name copy devices through the daemon's reach directory, opening the disks other
    workers serve with ``opener`` (None: the disks of this process only)."""
    _reach.table = ReachTable(directory, opener) if directory and opener else None


@dataclass
class _Held:
    status: int
    segments: int
    transferred: int
    when: float


_held: dict[int, _Held] = {}


def _aborted(asc: int, ascq: int = 0) -> CheckCondition:
    return CheckCondition(COPY_ABORTED, asc, ascq)


def _too_many(ascq: int) -> CheckCondition:
    return CheckCondition(ILLEGAL_REQUEST, 0x26, ascq)  # 06: target, 08: segment descriptors


def _target(descriptor: bytes, receiving: BlockDevice,
            opened: dict[str, BlockDevice]) -> BlockDevice:
    if descriptor[0] != IDENTIFICATION_DESCRIPTOR:
        raise CheckCondition(ILLEGAL_REQUEST, 0x26, 0x07)  # unsupported target descriptor
    if descriptor[1] & 0x1F != 0:  # only block devices
        raise _aborted(0x0D, 0x02)
    designator_type, length = descriptor[5] & 0x0F, descriptor[7]
    designator = bytes(descriptor[8 : 8 + length])
    if _reach.table is None:
        device = _disks.get((designator_type, designator))
    else:
        try:
            device = _reach.table.resolve(designator_type, designator, receiving, opened)
        except Unreachable as reason:
            log.warning("EXTENDED COPY sent to %s: %s", receiving.identity.name, reason)
            device = None
    if device is None:
        raise _aborted(0x0D, 0x02)  # COPY TARGET DEVICE NOT REACHABLE
    block_length = int.from_bytes(descriptor[29:32], "big")
    if block_length and block_length != device.block_size:
        raise _aborted(0x26, 0x00)
    return device


@dataclass
class _Segment:
    source: BlockDevice
    destination: BlockDevice
    source_lba: int
    destination_lba: int
    length: int  # bytes


def _segments(parameters: bytes, start: int, length: int, targets: list[BlockDevice | None],
              descriptors: list[bytes], receiving: BlockDevice,
              opened: dict[str, BlockDevice]) -> list[_Segment]:
    segments = []
    position = start
    while position < start + length:
        kind = parameters[position]
        if kind != BLOCK_TO_BLOCK:
            raise CheckCondition(ILLEGAL_REQUEST, 0x26, 0x09)  # unsupported segment type
        if position + 28 > start + length:
            raise parameter_list_length_error()
        _, flags, _, source, destination, blocks, source_lba, destination_lba = \
            _SEGMENT.unpack_from(parameters, position)
        if source >= len(targets) or destination >= len(targets):
            raise _aborted(0x0D, 0x02)  # a descriptor index naming no target: unreachable
        for index in (source, destination):
            if targets[index] is None:
                targets[index] = _target(descriptors[index], receiving, opened)
        source_disk, destination_disk = targets[source], targets[destination]
        assert source_disk is not None and destination_disk is not None
        unit = destination_disk.block_size if flags & 0x02 else source_disk.block_size  # DC
        byte_count = blocks * unit
        if byte_count % source_disk.block_size or byte_count % destination_disk.block_size:
            raise _aborted(0x26, 0x00)
        if byte_count > MAX_SEGMENT_BYTES:
            raise _aborted(0x26, 0x00)
        if (source_lba * source_disk.block_size + byte_count > source_disk.backend.size or
                destination_lba * destination_disk.block_size + byte_count >
                destination_disk.backend.size):
            # beyond a device's end: aborted with no additional sense, as libiscsi and
            # VMware expect (the segment number is in INFORMATION)
            raise CheckCondition(COPY_ABORTED, 0x00, 0x00, information=len(segments))
        if destination_disk.read_only:
            raise write_protected()
        segments.append(_Segment(source_disk, destination_disk, source_lba, destination_lba,
                                 byte_count))
        position += 28
    return segments


def extended_copy(device: BlockDevice, command: Command) -> Outcome | Deferred:
    list_length = min(be(command.cdb, 10, 4), command.data_length)
    if list_length == 0:
        return DATA_OUT_CONSUMED
    if list_length < HEADER_LENGTH:
        raise parameter_list_length_error()
    parameters = command.read_data_out(list_length)
    list_id = parameters[0]
    target_length, segment_length = be(parameters, 2, 2), be(parameters, 8, 4)
    if be(parameters, 12, 4):
        raise invalid_field_in_parameter_list(12)  # inline data is not offered
    if target_length + segment_length > MAX_DESCRIPTOR_LIST_LENGTH:
        raise parameter_list_length_error()
    if HEADER_LENGTH + target_length + segment_length > list_length:
        raise parameter_list_length_error()
    if target_length // TARGET_DESCRIPTOR_LENGTH > MAX_TARGET_DESCRIPTORS:
        raise _too_many(0x06)
    if segment_length // 28 > MAX_SEGMENT_DESCRIPTORS:
        raise _too_many(0x08)
    if target_length % TARGET_DESCRIPTOR_LENGTH:
        raise parameter_list_length_error()
    descriptors = [parameters[offset : offset + TARGET_DESCRIPTOR_LENGTH] for offset in
                   range(HEADER_LENGTH, HEADER_LENGTH + target_length, TARGET_DESCRIPTOR_LENGTH)]
    for descriptor in descriptors:
        if descriptor[0] != IDENTIFICATION_DESCRIPTOR:
            raise CheckCondition(ILLEGAL_REQUEST, 0x26, 0x07)
    targets: list[BlockDevice | None] = [None] * len(descriptors)
    opened: dict[str, BlockDevice] = {}  # disks of other workers, open for this copy
    try:
        segments = _segments(parameters, HEADER_LENGTH + target_length, segment_length,
                             targets, descriptors, device, opened)
    except CheckCondition:
        close_disks(opened)
        _hold(list_id, COMPLETED_WITH_ERROR, 0, 0)
        raise

    def run(nowait: bool) -> Outcome:
        if nowait:
            raise BlockingIOError("copies run on an I/O thread")
        transferred = 0
        try:
            for done, segment in enumerate(segments):
                try:
                    _copy(segment)
                except CheckCondition:
                    _hold(list_id, COMPLETED_WITH_ERROR, done, transferred)
                    raise
                transferred += segment.length
        finally:
            close_disks(opened)
        _hold(list_id, COMPLETED_GOOD, len(segments), transferred)
        return DATA_OUT_CONSUMED

    return run


def _copy(segment: _Segment) -> None:
    source = segment.source_lba * segment.source.block_size
    destination = segment.destination_lba * segment.destination.block_size
    buffer = bytearray(min(COPY_CHUNK_BYTES, segment.length))
    view = memoryview(buffer)
    done = 0
    while done < segment.length:
        step = min(len(buffer), segment.length - done)
        segment.source.backend.read([view[:step]], source + done, step, False)
        with segment.destination.atomic_lock:
            segment.destination.backend.write([view[:step]], destination + done, step, False,
                                              segment.destination.write_through)
        done += step


def _hold(list_id: int, status: int, segments: int, transferred: int) -> None:
    _held[list_id] = _Held(status, segments, transferred, time.monotonic())


def copy_status(device: BlockDevice, command: Command) -> Outcome:
    list_id = command.cdb[2]
    held = _held.pop(list_id, None)
    if held is None or time.monotonic() - held.when > HOLD_SECONDS:
        raise invalid_field_in_cdb(2)  # no copy with this list identifier
    data = bytes([0, 0, 0, 8, held.status]) + held.segments.to_bytes(2, "big")
    data += bytes([0x00]) + min(held.transferred, 0xFFFFFFFF).to_bytes(4, "big")  # bytes
    return respond(command, data, be(command.cdb, 10, 4))


def operating_parameters(device: BlockDevice, command: Command) -> Outcome:
    data = bytearray(44)
    data[4] = 0x01  # SNLID: copies without a list identifier are fine
    data[8:10] = MAX_TARGET_DESCRIPTORS.to_bytes(2, "big")
    data[10:12] = MAX_SEGMENT_DESCRIPTORS.to_bytes(2, "big")
    data[12:16] = MAX_DESCRIPTOR_LIST_LENGTH.to_bytes(4, "big")
    data[16:20] = MAX_SEGMENT_BYTES.to_bytes(4, "big")
    data[34:36] = (1).to_bytes(2, "big")  # total concurrent copies
    data[36] = 1  # maximum concurrent copies
    implemented = bytes([BLOCK_TO_BLOCK, IDENTIFICATION_DESCRIPTOR])
    data[43] = len(implemented)
    data += implemented
    data[0:4] = (len(data) - 4).to_bytes(4, "big")
    return respond(command, bytes(data), be(command.cdb, 10, 4))


EXTENDED_COPY_ACTIONS = {LID1: extended_copy}
RECEIVE_COPY_RESULTS_ACTIONS = {COPY_STATUS: copy_status,
                                OPERATING_PARAMETERS: operating_parameters}
