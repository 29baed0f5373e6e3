"""The consumer side of the TCMU command ring.

One :class:`Ring` per device, driven by one thread.  ``fetch`` takes every entry the kernel
has published since the last call; ``complete`` writes a response; ``flush`` publishes the
new tail and rings the doorbell once for the whole batch.

Why the details are as they are:

* The request and the response share the slot, so the CDB and the iovec list are copied out
  when the command is fetched, before any response can overwrite them.
* With out-of-order completion (mailbox flag OOOC) a finished command takes the oldest
  unreported slot and writes its own ``cmd_id`` there, so a slow command never holds back the
  reporting of fast ones.  Without OOOC each command answers in its own slot and the tail
  moves over the longest run of finished slots.
* The kernel copies the whole Data-In buffer back unless told otherwise, and reused data
  blocks still hold an earlier command's bytes: every short Data-In response either reports
  ``read_len`` (when the kernel offers it) or is zero-filled to the end.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .abi import (
    CAP_OOOC,
    CAP_READ_LEN,
    ENTRY_ALIGN,
    IOV_OFFSET,
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

# Length of a CDB by its opcode's group (SPC: the top three bits of the opcode).
CDB_LENGTH_BY_GROUP = (6, 10, 10, 12, 16, 12, 10, 10)
VARIABLE_LENGTH_OPCODE = 0x7F
ZERO_CHUNK = memoryview(bytes(1 << 20))
GOOD = 0x00


class RingError(RuntimeError):
    """The ring's contents or its use break the protocol; the device needs a ring reset."""


def cdb_length(cdb_head: bytes) -> int:
    """Bytes in a CDB, from its first bytes (variable-length CDBs carry their own length)."""
    opcode = cdb_head[0]
    if opcode == VARIABLE_LENGTH_OPCODE and len(cdb_head) > 7:
        return 8 + cdb_head[7]
    return CDB_LENGTH_BY_GROUP[opcode >> 5]


class Command:
    """One SCSI command taken from the ring.

    ``cdb`` is a private copy; ``iovecs`` are memoryviews straight into the shared data area
    (Data-Out holds the initiator's data, Data-In is where the answer goes).  They are valid
    only until the command is completed.  ``data_length`` is the size of that buffer, which
    the fabric chose (it may differ from what the CDB asks for).
    """

    __slots__ = ("bidi_iovecs", "cdb", "cmd_id", "completed", "data_length", "iovecs", "ring",
                 "slot")

    def __init__(self, ring: Ring, cmd_id: int, cdb: bytes, iovecs: list[memoryview],
                 bidi_iovecs: list[memoryview], slot: int, data_length: int):
        self.ring = ring
        self.cmd_id = cmd_id
        self.cdb = cdb
        self.iovecs = iovecs
        self.bidi_iovecs = bidi_iovecs
        self.slot = slot
        self.data_length = data_length
        self.completed = False

    def write_data_in(self, data: bytes | bytearray | memoryview) -> int:
        """Scatter ``data`` into the Data-In buffer; returns how many bytes fitted."""
        written = 0
        source = memoryview(data)
        for view in self.iovecs:
            if written >= len(source):
                break
            chunk = min(len(view), len(source) - written)
            view[:chunk] = source[written : written + chunk]
            written += chunk
        return written

    def read_data_out(self, length: int | None = None) -> bytes:
        """A copy of the first ``length`` bytes of Data-Out (all of it by default)."""
        if length is None:
            return b"".join(self.iovecs)
        parts = []
        remaining = length
        for view in self.iovecs:
            if remaining <= 0:
                break
            parts.append(bytes(view[:remaining]))
            remaining -= len(view)
        return b"".join(parts)

    def complete(self, status: int = GOOD, sense: bytes = b"",
                 data_in_length: int | None = None) -> None:
        self.ring.complete(self, status, sense, data_in_length)

    def __repr__(self) -> str:
        return f"<Command id={self.cmd_id} cdb={self.cdb.hex()} length={self.data_length}>"


@dataclass(frozen=True)
class TmrNotice:
    """The kernel's notice that a task management function aborts these commands.

    Purely informational: the kernel still waits for each listed command's completion.
    """

    tmr_type: int
    cmd_ids: tuple[int, ...]


# Entry fields read and written with struct on the mapping: one call per entry instead of a
# cffi attribute access per field.  The offsets are the ones abi.py verifies at import
# (len_op 0, cmd_id 4, uflags 7, iov_cnt 8, iov_bidi_cnt 12, cdb_off 24; response at 8..16).
_LEN_OP = struct.Struct("<I")
_REQUEST = struct.Struct("<IHBBIII4xQ")  # len_op cmd_id kflags uflags iov_cnt bidi dif cdb_off
# The same header and the first iovec (base, length) in one unpack: most commands have one
# contiguous buffer.  An entry without iovecs may be shorter than this; the bytes read past
# it still lie inside the mapping (the data area follows the command ring) and are ignored.
_REQUEST_AND_IOVEC = struct.Struct("<IHxxII4x4xQ16xQQ")  # len_op cmd_id cnt bidi cdb_off base len
assert _REQUEST_AND_IOVEC.size == IOV_OFFSET + 16
_RESPONSE = struct.Struct("<HBBB3xI")  # at offset 4: cmd_id kflags uflags scsi_status read_len
_RESPONSE_OFFSET = 4
_SENSE_OFFSET = 16
assert _REQUEST.size == 32 and ffi.offsetof("struct ring_cmd_entry", "req", "cdb_off") == 24
assert ffi.offsetof("struct ring_cmd_entry", "rsp", "read_len") == _RESPONSE_OFFSET + 8
_ONE_IOVEC = struct.Struct("<QQ")
_IOVECS = [struct.Struct(f"<{2 * count}Q") for count in range(64)]


def _iovec_struct(count: int) -> struct.Struct:
    return _IOVECS[count] if count < len(_IOVECS) else struct.Struct(f"<{2 * count}Q")


class Ring:
    """Consumer of one device's command ring in ``memory`` (the whole shared mapping)."""

    def __init__(self, memory: Any, doorbell: Callable[[], None],
                 on_tmr: Callable[[TmrNotice], None] | None = None):
        self._view = memoryview(memory)
        self._base = ffi.from_buffer("char[]", memory, require_writable=True)
        self._mailbox = ffi.cast("struct ring_mailbox *", self._base)
        if self._mailbox.version != MAILBOX_VERSION:
            raise RingError(f"mailbox version {self._mailbox.version}, expected {MAILBOX_VERSION}")
        self.flags = self._mailbox.flags
        self._ring_off = self._mailbox.cmdr_off
        self._ring_size = self._mailbox.cmdr_size
        self._doorbell = doorbell
        self.on_tmr = on_tmr
        self._next = self._mailbox.cmd_tail  # first entry not yet fetched
        self._tail = self._next  # first slot not yet reported complete
        self._published = self._tail
        self.in_flight = 0
        self._out_of_order = bool(self.flags & CAP_OOOC)
        self._read_len = bool(self.flags & CAP_READ_LEN)
        # in-order mode only: [offset, length, done] for each slot between tail and next
        self._slots: deque[list[int]] = deque()

    def pending(self) -> bool:
        """Whether the kernel has published entries that were not fetched yet."""
        return lib.ring_load_head(self._mailbox) != self._next

    def fetch(self) -> list[Command]:
        """Every command published since the last fetch (PAD skipped, TMR to ``on_tmr``)."""
        head = lib.ring_load_head(self._mailbox)
        position = self._next
        if position == head:
            return []
        commands: list[Command] = []
        append = commands.append
        size = self._ring_size
        ring_off = self._ring_off
        view = self._view
        unpack_entry = _REQUEST_AND_IOVEC.unpack_from
        lengths = CDB_LENGTH_BY_GROUP
        in_order = not self._out_of_order
        new = Command.__new__
        while position != head:
            entry = ring_off + position
            len_op, cmd_id, count, bidi_count, cdb_off, base, total = unpack_entry(view, entry)
            length = len_op & ~OP_MASK
            if length == 0 or length % ENTRY_ALIGN or length > size:
                raise RingError(f"entry at {position} has impossible length {length}")
            opcode = len_op & OP_MASK
            if opcode == OP_CMD:
                first = view[cdb_off]
                if first == VARIABLE_LENGTH_OPCODE:
                    cdb_size = cdb_length(view[cdb_off : cdb_off + 8].tobytes())
                else:
                    cdb_size = lengths[first >> 5]
                if cdb_off + cdb_size > entry + length:  # never read past the entry
                    cdb_size = entry + length - cdb_off
                command = new(Command)
                command.ring = self
                command.cmd_id = cmd_id
                command.cdb = view[cdb_off : cdb_off + cdb_size].tobytes()
                command.slot = position
                command.completed = False
                if count == 1 and not bidi_count:  # the common case: one contiguous buffer
                    command.iovecs = [view[base : base + total]]
                    command.bidi_iovecs = []
                    command.data_length = total
                else:
                    self._scattered(command, entry, count, bidi_count)
                append(command)
            elif opcode == OP_TMR:
                self._take_tmr(entry)
            elif opcode != OP_PAD:
                view[entry + 7] = UFLAG_UNKNOWN_OP
            if in_order:
                self._slots.append([position, length, opcode != OP_CMD])
            position = (position + length) % size
        self._next = position
        self.in_flight += len(commands)
        return commands

    def _scattered(self, command: Command, entry: int, count: int, bidi_count: int) -> None:
        """Fill in the buffers of a command with several (or no, or bidirectional) iovecs."""
        view = self._view
        vectors = _iovec_struct(count + bidi_count).unpack_from(view, entry + IOV_OFFSET)
        data = []
        total = 0
        for index in range(0, 2 * count, 2):
            base = vectors[index]
            total += vectors[index + 1]
            data.append(view[base : base + vectors[index + 1]])
        command.iovecs = data
        command.bidi_iovecs = [view[vectors[index] : vectors[index] + vectors[index + 1]]
                               for index in range(2 * count, 2 * (count + bidi_count), 2)]
        command.data_length = total

    def _take_tmr(self, entry: int) -> None:
        tmr = ffi.cast("struct ring_tmr_entry *", self._base + entry)
        ids = ffi.cast("uint16_t *", self._base + entry + TMR_IDS_OFFSET)
        notice = TmrNotice(tmr.tmr_type, tuple(ids[i] for i in range(tmr.cmd_cnt)))
        if self.on_tmr is not None:
            self.on_tmr(notice)

    def complete(self, command: Command, status: int = GOOD, sense: bytes = b"",
                 data_in_length: int | None = None) -> None:
        """Write ``command``'s response; it reaches the kernel at the next :meth:`flush`.

        ``data_in_length`` is how many Data-In bytes the handler produced (None when the
        buffer carried Data-Out); the rest of the buffer never leaves stale.
        """
        self.answer(command, (status, sense, data_in_length))

    def answer(self, command: Command, outcome: tuple[int, bytes, int | None]) -> None:
        """:meth:`complete` with ``(status, sense, data_in_length)`` in one tuple: the data
        plane's form, one call per command with no argument unpacking."""
        status, sense, data_in_length = outcome
        if command.completed or command.ring is not self:
            raise RingError(f"command {command.cmd_id} completed twice or on the wrong ring")
        command.completed = True
        uflags = 0
        read_len = 0
        if data_in_length is not None and status == GOOD and data_in_length < command.data_length:
            if self._read_len and data_in_length > 0:
                uflags = UFLAG_READ_LEN
                read_len = data_in_length
            else:
                zero_fill(command.iovecs, data_in_length)
        for buffer in command.iovecs:
            buffer.release()
        if command.bidi_iovecs:
            for buffer in command.bidi_iovecs:
                buffer.release()
        command.iovecs = command.bidi_iovecs = []

        view = self._view
        if self._out_of_order:
            position = self._tail
            entry = self._ring_off + position
            len_op = _LEN_OP.unpack_from(view, entry)[0]
            if len_op & OP_MASK != OP_CMD or position == self._next:
                position = self._oldest_command_slot()
                entry = self._ring_off + position
                len_op = _LEN_OP.unpack_from(view, entry)[0]
            self._tail = (position + (len_op & ~OP_MASK)) % self._ring_size
        else:
            entry = self._ring_off + command.slot
        _RESPONSE.pack_into(view, entry + _RESPONSE_OFFSET, command.cmd_id, 0, uflags, status,
                            read_len)
        if sense:
            view[entry + _SENSE_OFFSET : entry + _SENSE_OFFSET + SENSE_BUFFER_SIZE] = (
                sense[:SENSE_BUFFER_SIZE].ljust(SENSE_BUFFER_SIZE, b"\0"))
        self.in_flight -= 1
        if not self._out_of_order:
            self._mark_done(command.slot)

    def _oldest_command_slot(self) -> int:
        """Skip PAD/TMR slots at the tail; the first CMD slot there is free to reuse."""
        position = self._tail
        view = self._view
        while True:
            if position == self._next:
                raise RingError("completion without a fetched command slot")
            len_op = _LEN_OP.unpack_from(view, self._ring_off + position)[0]
            if len_op & OP_MASK == OP_CMD:
                return position
            position = (position + (len_op & ~OP_MASK)) % self._ring_size

    def _mark_done(self, slot: int) -> None:
        for record in self._slots:
            if record[0] == slot:
                record[2] = True
                break
        while self._slots and self._slots[0][2]:
            position, length, _ = self._slots.popleft()
            self._tail = (position + length) % self._ring_size

    def flush(self) -> bool:
        """Publish completions and ring the doorbell once; False when there was nothing new."""
        if self.in_flight == 0:
            # only PAD/TMR slots can remain: let the kernel reclaim them too
            self._tail = self._next
            self._slots.clear()
        if self._tail == self._published:
            return False
        lib.ring_store_tail(self._mailbox, self._tail)
        self._published = self._tail
        self._doorbell()
        return True

    def close(self) -> None:
        """Drop every reference into the mapping so that it can be unmapped (idempotent)."""
        if self._mailbox is None:
            return
        self._mailbox = None
        ffi.release(self._base)
        self._view.release()


def zero_fill(views: list[memoryview], start: int) -> None:
    """Zero every byte of the scattered buffer ``views`` from byte ``start`` on."""
    offset = 0
    for view in views:
        end = offset + len(view)
        if end > start:
            begin = max(0, start - offset)
            while begin < len(view):
                chunk = min(len(view) - begin, len(ZERO_CHUNK))
                view[begin : begin + chunk] = ZERO_CHUNK[:chunk]
                begin += chunk
        offset = end
