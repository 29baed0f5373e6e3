"""RingEmulator: the kernel's side of a TCMU ring, in userspace, for tests and benchmarks.

It lays out memory exactly as ``target_core_user`` does (mailbox, command ring, page-sized
data blocks), queues commands the way the kernel does (entries never split at the wrap: a PAD
entry fills the end; iovecs merge physically consecutive blocks; ``cdb_off`` and ``iov_base``
are offsets from the start of the mapping; cyclic ``cmd_id`` allocation), and processes
completions the way the kernel does (by ``cmd_id`` in the slot, skipping PAD and TMR, honouring
``read_len``).  Data-In blocks are filled with a marker before a command is queued, so a
handler that leaves bytes unwritten is caught: the marker comes back in the Data-In.
"""

from __future__ import annotations

import mmap
import os
import random
from dataclasses import dataclass, field

from ..uio.abi import (
    CAP_OOOC,
    CAP_READ_LEN,
    CAP_TMR,
    CMD_ENTRY_SIZE,
    ENTRY_ALIGN,
    IOV_OFFSET,
    IOVEC_SIZE,
    MAILBOX_VERSION,
    OP_CMD,
    OP_MASK,
    OP_PAD,
    OP_TMR,
    SENSE_BUFFER_SIZE,
    TMR_IDS_OFFSET,
    UFLAG_READ_LEN,
    UFLAG_UNKNOWN_OP,
    ffi,
    lib,
)
from ..uio.ring import Ring, TmrNotice

STALE_MARKER = b"STALE!!!"
CHECK_CONDITION = 0x02
MAX_CMD_ID = 0xFFFF


class RingFullError(RuntimeError):
    """No room in the ring or the data area; the kernel would queue the command."""


class RingBrokenError(RuntimeError):
    """Userspace completed a command id the kernel does not know (e.g. a second time)."""


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass
class Completion:
    """What the kernel took from a completed slot."""

    cmd_id: int
    status: int
    sense: bytes
    data_in: bytes | None  # what the initiator receives (None for non-Data-In commands)
    residual: int  # bytes of the Data-In buffer not transferred


@dataclass
class _Queued:
    blocks: list[int]
    data_in_length: int
    tag: object = None


@dataclass
class RingEmulator:
    """A kernel stand-in owning an anonymous shared mapping with the TCMU layout."""

    ring_bytes: int = 64 * 1024  # mailbox + command ring
    data_blocks: int = 256
    block_size: int = 4096
    flags: int = CAP_OOOC | CAP_READ_LEN | CAP_TMR
    scatter: bool = False  # allocate data blocks randomly, giving multi-iovec commands
    seed: int = 0
    doorbells: int = 0
    pads_written: int = 0
    queued: dict[int, _Queued] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_off = _round_up(self.ring_bytes, mmap.PAGESIZE)
        self.size = self.data_off + self.data_blocks * self.block_size
        self.memory = mmap.mmap(-1, self.size)
        self._base = ffi.from_buffer("char[]", self.memory, require_writable=True)
        self._mailbox = ffi.cast("struct ring_mailbox *", self._base)
        self._mailbox.version = MAILBOX_VERSION
        self._mailbox.flags = self.flags
        self._mailbox.cmdr_off = 128
        self._mailbox.cmdr_size = self.ring_bytes - 128
        self.ring_size = self.ring_bytes - 128
        self._ring_base = self._base + 128
        self._head = 0
        self._last_cleaned = 0
        self._free = [True] * self.data_blocks
        self._next_id = 1
        self._random = random.Random(self.seed)
        self.memory[self.data_off :] = STALE_MARKER * (self.data_blocks * self.block_size // 8)
        self._event_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._rings: list[Ring] = []

    def ring(self, on_tmr: object = None) -> Ring:
        """A consumer attached to this emulator, as a worker would attach to a real device."""
        ring = Ring(self.memory, self.doorbell, on_tmr)  # type: ignore[arg-type]
        self._rings.append(ring)
        return ring

    def doorbell(self) -> None:
        self.doorbells += 1

    # the UIO device's fd, as a data-plane server sees it: readable when commands were posted
    def fileno(self) -> int:
        return self._event_fd

    def acknowledge(self) -> bool:
        try:
            os.eventfd_read(self._event_fd)
        except BlockingIOError:
            return False
        return True

    # ---- producer side -------------------------------------------------------------

    def _ring_free(self) -> int:
        used = (self._head - self._last_cleaned) % self.ring_size
        return self.ring_size - used - 1

    def _allocate_blocks(self, count: int) -> list[int]:
        free = [index for index, is_free in enumerate(self._free) if is_free]
        if len(free) < count:
            raise RingFullError(f"data area full: {count} blocks wanted, {len(free)} free")
        chosen = sorted(self._random.sample(free, count)) if self.scatter else free[:count]
        for index in chosen:
            self._free[index] = False
        return chosen

    def _iovecs(self, blocks: list[int], length: int) -> list[tuple[int, int]]:
        """(offset, length) runs of consecutive blocks, the last one trimmed to ``length``."""
        runs: list[list[int]] = []
        for index in blocks:
            offset = self.data_off + index * self.block_size
            if runs and runs[-1][0] + runs[-1][1] == offset:
                runs[-1][1] += self.block_size
            else:
                runs.append([offset, self.block_size])
        excess = len(blocks) * self.block_size - length
        if runs:
            runs[-1][1] -= excess
        return [(offset, size) for offset, size in runs if size]

    def _claim_slot(self, entry_length: int) -> int:
        """Place an entry, padding to the wrap point first when it would not fit there."""
        to_end = self.ring_size - self._head
        needed = entry_length + (to_end if to_end < entry_length else 0)
        if needed > self._ring_free():
            raise RingFullError("command ring full")
        if to_end < entry_length:
            pad = ffi.cast("struct ring_entry_hdr *", self._ring_base + self._head)
            pad.len_op = to_end | OP_PAD
            pad.cmd_id = 0
            pad.kflags = pad.uflags = 0
            self.pads_written += 1
            self._head = 0
        return self._head

    def _allocate_id(self) -> int:
        for _ in range(MAX_CMD_ID):
            candidate = self._next_id
            self._next_id = candidate % MAX_CMD_ID + 1
            if candidate not in self.queued:
                return candidate
        raise RingFullError("no free command id")

    def submit(self, cdb: bytes, data_out: bytes = b"", data_in_length: int = 0,
               tag: object = None) -> int:
        """Queue one command as the kernel would; returns its cmd_id."""
        if data_out and data_in_length:
            raise ValueError("bidirectional commands are not emulated")
        length = len(data_out) or data_in_length
        blocks = self._allocate_blocks(-(-length // self.block_size))
        iovecs = self._iovecs(blocks, length)
        base_length = max(IOV_OFFSET + IOVEC_SIZE * len(iovecs), CMD_ENTRY_SIZE)
        entry_length = base_length + _round_up(len(cdb), ENTRY_ALIGN)
        try:
            position = self._claim_slot(entry_length)
        except RingFullError:
            self._release_blocks(blocks)
            raise
        cmd_id = self._allocate_id()
        slot = self._ring_base + position
        ffi.memmove(slot, bytes(entry_length), entry_length)
        entry = ffi.cast("struct ring_cmd_entry *", slot)
        entry.hdr.len_op = entry_length | OP_CMD
        entry.hdr.cmd_id = cmd_id
        entry.req.iov_cnt = len(iovecs)
        entry.req.cdb_off = 128 + position + base_length
        vectors = ffi.cast("struct ring_iovec *", slot + IOV_OFFSET)
        for index, (offset, size) in enumerate(iovecs):
            vectors[index].base = offset
            vectors[index].len = size
        ffi.memmove(slot + base_length, cdb, len(cdb))
        copied = 0
        for offset, size in iovecs:
            if data_out:
                self.memory[offset : offset + size] = data_out[copied : copied + size]
            copied += size
        self.queued[cmd_id] = _Queued(blocks, data_in_length, tag)
        self._publish((position + entry_length) % self.ring_size)
        return cmd_id

    def submit_tmr(self, tmr_type: int, cmd_ids: list[int]) -> None:
        entry_length = _round_up(TMR_IDS_OFFSET + 2 * len(cmd_ids), ENTRY_ALIGN)
        position = self._claim_slot(entry_length)
        slot = self._ring_base + position
        ffi.memmove(slot, bytes(entry_length), entry_length)
        tmr = ffi.cast("struct ring_tmr_entry *", slot)
        tmr.hdr.len_op = entry_length | OP_TMR
        tmr.tmr_type = tmr_type
        tmr.cmd_cnt = len(cmd_ids)
        ids = ffi.cast("uint16_t *", slot + TMR_IDS_OFFSET)
        for index, cmd_id in enumerate(cmd_ids):
            ids[index] = cmd_id
        self._publish((position + entry_length) % self.ring_size)

    def _publish(self, head: int) -> None:
        self._head = head
        lib.ring_store_head(self._mailbox, head)
        os.eventfd_write(self._event_fd, 1)

    # ---- completion side -----------------------------------------------------------

    def reap(self) -> list[Completion]:
        """Process every slot up to the published tail, as the kernel's doorbell handler does."""
        tail = lib.ring_load_tail(self._mailbox)
        completions = []
        while self._last_cleaned != tail:
            slot = self._ring_base + self._last_cleaned
            entry = ffi.cast("struct ring_cmd_entry *", slot)
            len_op = entry.hdr.len_op
            length = len_op & ~OP_MASK
            if len_op & OP_MASK == OP_CMD:
                completions.append(self._complete(entry))
            self._last_cleaned = (self._last_cleaned + length) % self.ring_size
        return completions

    def _complete(self, entry: object) -> Completion:
        cmd_id = entry.hdr.cmd_id  # type: ignore[attr-defined]
        queued = self.queued.pop(cmd_id, None)
        if queued is None:
            raise RingBrokenError(f"completion for cmd_id {cmd_id}, which is not queued")
        uflags = entry.hdr.uflags  # type: ignore[attr-defined]
        response = entry.rsp  # type: ignore[attr-defined]
        status = response.scsi_status
        sense = bytes(ffi.buffer(response.sense_buffer, SENSE_BUFFER_SIZE))
        if uflags & UFLAG_UNKNOWN_OP:
            status, sense = CHECK_CONDITION, bytes(SENSE_BUFFER_SIZE)
        transferred = queued.data_in_length
        read_len_valid = bool(uflags & UFLAG_READ_LEN and response.read_len
                              and self.flags & CAP_READ_LEN)
        if read_len_valid:
            transferred = min(transferred, response.read_len)
        data_in = None
        if queued.data_in_length and (status != CHECK_CONDITION or read_len_valid):
            data_in = self._gather(queued.blocks, transferred)
        elif queued.data_in_length:
            transferred = 0
        self._release_blocks(queued.blocks)
        return Completion(cmd_id, status, sense, data_in, queued.data_in_length - transferred)

    def _gather(self, blocks: list[int], length: int) -> bytes:
        parts = []
        for index in blocks:
            offset = self.data_off + index * self.block_size
            parts.append(self.memory[offset : offset + self.block_size])
        return b"".join(parts)[:length]

    def _release_blocks(self, blocks: list[int]) -> None:
        for index in blocks:
            self._free[index] = True
            offset = self.data_off + index * self.block_size
            # reused blocks keep old bytes in the kernel; the marker makes leaks visible
            self.memory[offset : offset + self.block_size] = STALE_MARKER * (self.block_size // 8)

    def tag_of(self, cmd_id: int) -> object:
        return self.queued[cmd_id].tag

    def close(self) -> None:
        """Unmap, after closing the consumers attached to this mapping."""
        for ring in self._rings:
            ring.close()
        os.close(self._event_fd)
        ffi.release(self._base)
        self.memory.close()


__all__ = ["STALE_MARKER", "Completion", "RingBrokenError", "RingEmulator", "RingFullError",
           "TmrNotice"]
