"""A ``vdisk_blockio`` disk whose block device can go away and come back.

Storage behind a target is pulled, multipath maps flap, volumes grow.  The daemon's udev
watcher (``tcmu_scst.udev``) follows the device and tells the worker, through the control
channel, by setting the pseudo-attribute ``backing``:

* ``backing=""``: the device is gone.  Its descriptor is closed (once the commands still
  running on I/O threads let go of it) and every command that needs the medium answers NOT
  READY: MEDIUM NOT PRESENT (3A/00) for a removable disk, LOGICAL UNIT NOT READY, MANUAL
  INTERVENTION REQUIRED (04/03) otherwise, instead of I/O errors from a stale descriptor.
* ``backing=/dev/...``: the same disk is there (again), at that path: it is opened, the
  disk is ready, and the initiator gets NOT READY TO READY CHANGE (28/00) with its next
  command, followed by CAPACITY DATA HAS CHANGED (2A/09) when the size differs.

The supervisor records the last value in the device's spec, so a worker restarted while the
disk is away comes back offline instead of failing to open it.  ``resync_size`` (SCST's own
attribute) serves a new size and raises 2A/09; see ``disk.BlockDevice``.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from .backend import Backend
from .block_backend import BlockBackend, backing_gone
from .disk import BlockDevice, DiskSettings, error_outcome
from .identity import Identity
from .outcome import Deferred, Outcome
from .sbc import READ_CAPACITY_10, SERVICE_ACTION_IN_16
from .sense import NOT_READY, CheckCondition

if TYPE_CHECKING:
    from ..uio.ring import Command

log = logging.getLogger(__name__)

BACKING = "backing"
# besides the commands that check ``ready`` themselves: the capacity of a disk that is not
# there is not known (READ CAPACITY 16 and GET LBA STATUS are both SERVICE ACTION IN 16)
CAPACITY_COMMANDS = frozenset({READ_CAPACITY_10, SERVICE_ACTION_IN_16})


class DetachedBackend(Backend):
    """Stands in for the block device while it is away: the geometry last seen (so INQUIRY
    and MODE SENSE still describe the disk), and NOT READY for every transfer."""

    resizable = True  # its refresh_size refuses with ENODEV: the device is away

    def __init__(self, path: str, size: int, logical_block_size: int, rotational: bool,
                 can_deallocate: bool, deallocate_granularity: int, max_deallocate_bytes: int):
        self.path = path
        self.size = size
        self.logical_block_size = logical_block_size
        self.rotational = rotational
        self.can_deallocate = can_deallocate
        self.deallocate_granularity = deallocate_granularity
        self.max_deallocate_bytes = max_deallocate_bytes
        self.deallocate_zeroes = False
        self.nowait_reads = self.nowait_writes = False

    @classmethod
    def like(cls, backend: BlockBackend | DetachedBackend) -> DetachedBackend:
        """Copies values only: the detached stand-in must not keep the old descriptor alive."""
        return cls(backend.path, backend.size, backend.logical_block_size, backend.rotational,
                   backend.can_deallocate, backend.deallocate_granularity,
                   backend.max_deallocate_bytes)

    def read(self, *_: object) -> None:
        raise backing_gone()

    def write(self, *_: object) -> None:
        raise backing_gone()

    def flush(self) -> None:
        raise backing_gone()

    def deallocate(self, offset: int, length: int) -> None:
        raise backing_gone()

    def extents(self, offset: int, length: int) -> list[tuple[int, int, bool]]:
        raise backing_gone()

    def refresh_size(self) -> int:
        raise OSError(errno.ENODEV, f"{self.path} is gone: nothing to resize")

    def close(self) -> None:
        """Nothing is open."""


class BlockioDevice(BlockDevice):
    """A disk over a block device that the watcher may detach and attach again."""

    backend: BlockBackend | DetachedBackend  # type: ignore[assignment]

    def __init__(self, identity: Identity, backend: BlockBackend | DetachedBackend,
                 settings: DiskSettings):
        super().__init__(identity, backend, settings)  # type: ignore[arg-type]
        self.offline = isinstance(backend, DetachedBackend)
        self.ready = not self.offline

    def set_attribute(self, name: str, value: str) -> None:
        if name == BACKING:
            if value:
                self.attach(value)
            else:
                self.detach()
            return
        super().set_attribute(name, value)

    def detach(self) -> None:
        """The block device is gone: stop using it, answer NOT READY."""
        if self.offline:
            return
        old = self.backend
        self.backend = DetachedBackend.like(old)
        self.offline = True
        self.ready = False
        if isinstance(old, BlockBackend):
            old.close_when_unused()
        log.warning("%s: %s is gone; the disk answers NOT READY until it returns",
                    self.identity.name, old.path)

    def attach(self, path: str) -> None:
        """The block device is (back) at ``path``: open it and serve it.  A device that
        cannot be opened, or whose logical blocks no longer fit the disk's block size,
        leaves the disk as it was (OSError, whose errno the control channel reports)."""
        backend = BlockBackend(path, read_only=self.settings.read_only)
        if self.block_size < backend.logical_block_size or \
                self.block_size % backend.logical_block_size:
            backend.close()
            raise OSError(errno.EINVAL, f"{path}: logical block size "
                          f"{backend.logical_block_size} does not fit blocksize "
                          f"{self.block_size}")
        old = self.backend
        self.backend = backend
        if isinstance(old, BlockBackend):
            old.close_when_unused()
        self.offline = False
        self.ready = self.medium_loaded
        self.queue_unit_attention(0x28, 0x00)  # NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
        if backend.size != old.size:
            self.queue_unit_attention(0x2A, 0x09)  # CAPACITY DATA HAS CHANGED
        log.info("%s: serving %s again (%d bytes)", self.identity.name, path, backend.size)

    def execute(self, command: Command) -> Outcome | Deferred:
        if self.offline and command.cdb[0] in CAPACITY_COMMANDS and \
                not self.unit_attentions:
            try:
                self.check_ready()
            except CheckCondition as not_ready:
                return error_outcome(not_ready)
        return super().execute(command)

    def check_ready(self) -> None:
        if self.offline:
            if self.removable:
                raise CheckCondition(NOT_READY, 0x3A, 0x00)  # MEDIUM NOT PRESENT
            raise backing_gone()
        super().check_ready()

    def load_medium(self) -> None:
        """START STOP UNIT may load the medium, but not bring back a device that is gone."""
        super().load_medium()
        self.ready = not self.offline
