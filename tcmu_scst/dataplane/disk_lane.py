"""When a disk's READs and WRITEs may take the ring's fast lane (tcmu_scst.uio.fast_lane).

The lane copies and answers GOOD; everything SCSI adds to a plain copy is decided here, once
per batch, from the device's state: a pending unit attention or a medium that is not ready
close the lane (Python reports them with the next command), a read-only or write-through
device keeps writes out of it, and COMPARE AND WRITE's lock, held by the lane's owner for
the length of the scan, keeps writes from landing between CAW's compare and its write.
"""

from __future__ import annotations

import logging
import os

from ..handlers import sbc
from ..handlers.disk import BlockDevice, ScsiDevice
from ..uio.fast_lane import LANE_READ, LANE_WRITE, FastLane
from ..uio.ring import Command, Ring

log = logging.getLogger(__name__)
LANE_OPCODES = {sbc.READ_10: sbc.read, sbc.READ_16: sbc.read,
                sbc.WRITE_10: sbc.write, sbc.WRITE_16: sbc.write}
# TCMU_SCST_FAST_LANE=0 turns the lane off (to compare the two paths, e.g. in bench/vm-fio)
ENVIRONMENT_SWITCH = "TCMU_SCST_FAST_LANE"


class DiskLane:
    """A block device's fast lane and the rule that opens it."""

    def __init__(self, device: BlockDevice, lane: FastLane):
        self.device = device
        self.lane = lane

    def open(self) -> bool:
        """Set what the next scan may serve; True when the write lock was taken (pass it to
        :meth:`close`)."""
        device = self.device
        blocks = device.backend.size // device.block_size
        if device.unit_attentions or not device.ready:
            self.lane.permit(0, blocks)
            return False
        if (not device.read_only and not device.write_through
                and device.atomic_lock.acquire(False)):
            self.lane.permit(LANE_READ | LANE_WRITE, blocks)
            return True
        self.lane.permit(LANE_READ, blocks)
        return False

    def close(self, locked: bool) -> None:
        """After the scan: nothing passes until the next :meth:`open`."""
        self.lane.permit(0, 0)
        if locked:
            self.device.atomic_lock.release()

    def fetch(self, ring: Ring) -> tuple[list[Command], int]:
        """``ring.fetch()`` with the lane open: the commands left to Python, and how many the
        lane answered on the way."""
        counter = self.lane.struct
        before = counter.served
        locked = self.open()
        try:
            commands = ring.fetch()
        finally:
            self.close(locked)
        return commands, counter.served - before

    @property
    def served(self) -> int:
        """Commands the lane answered so far."""
        return self.lane.served

    def release(self) -> None:
        self.lane.close()


def disk_lane(device: ScsiDevice, ring: Ring) -> DiskLane | None:
    """A lane for ``device`` on ``ring``, attached; None when the device cannot have one
    (not a disk, a store that is not memory, commands of its own for READ/WRITE, a ring
    without out-of-order completion) or the environment turned lanes off."""
    if os.environ.get(ENVIRONMENT_SWITCH, "1") == "0" or not isinstance(device, BlockDevice):
        return None
    offer = device.backend.lane_store()
    if offer is None or any(device.commands.get(opcode) is not function
                            for opcode, function in LANE_OPCODES.items()):
        return None
    store, store_bytes = offer
    try:
        lane = FastLane(store, store_bytes, device.block_size,
                        device.backend.size // device.block_size)
    except ValueError as error:
        log.info("%s: no fast lane: %s", device.identity.name, error)
        return None
    if not ring.attach_lane(lane):
        lane.close()
        return None
    return DiskLane(device, lane)
