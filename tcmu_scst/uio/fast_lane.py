"""The ring's fast lane: plain READ/WRITE(10/16) served inside the compiled ring walk.

Why: under emulation (qemu TCG, the only way these machines run a kernel) a command that
goes through the Python SCSI path costs the worker tens of microseconds, and for a disk
whose store is memory nearly all of it is interpretation around a bounds check and one copy.
``ring_scan`` (csrc/ring_abi.c) can do that check and copy itself and answer GOOD, so the
worker's Python runs once per batch instead of once per command.

The lane knows nothing of SCSI state: its owner opens it before each scan with
:meth:`FastLane.permit` (what may pass now: reads, writes, or nothing) and it gives back to
Python every command it is not sure about, untouched.
"""

from __future__ import annotations

from typing import Any

from .abi import ffi, lib

LANE_READ = lib.LANE_READ
LANE_WRITE = lib.LANE_WRITE


class FastLane:
    """The C ``struct fast_lane`` of one device, and the store it copies from and to.

    ``store`` is a writable buffer over the device's bytes (a shared mapping of its file),
    or None for a device without storage (reads return zeros, writes vanish); only the first
    ``store_bytes`` bytes of it are used.
    """

    def __init__(self, store: Any, store_bytes: int, block_size: int, blocks: int):
        if block_size <= 0 or block_size & (block_size - 1):
            raise ValueError(f"block size {block_size} is not a power of two")
        self.struct = ffi.new("struct fast_lane *")
        self._store = None
        if store is not None:
            self._store = ffi.from_buffer("uint8_t[]", store, require_writable=False)
            if store_bytes > len(self._store):
                raise ValueError("store_bytes beyond the store")
            self.struct.store = self._store
        self.struct.store_bytes = store_bytes
        self.struct.block_shift = block_size.bit_length() - 1
        self.struct.blocks = blocks
        self.struct.allow = 0
        self.closed = False

    def permit(self, allow: int, blocks: int) -> None:
        """What the next scans may serve (LANE_READ | LANE_WRITE, or 0) and the capacity."""
        lane = self.struct
        lane.allow = 0 if self.closed else allow
        lane.blocks = blocks

    @property
    def served(self) -> int:
        """Commands this lane completed so far."""
        return self.struct.served

    def close(self) -> None:
        """Release the store (its mapping can then be closed); the lane serves nothing more."""
        self.closed = True
        self.struct.allow = 0
        if self._store is not None:
            self.struct.store = ffi.NULL
            ffi.release(self._store)
            self._store = None
