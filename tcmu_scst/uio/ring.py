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
* Walking the entries and writing responses are byte shuffling done for every command, so
  they run in the compiled helpers ``ring_scan`` and ``ring_respond`` (csrc/ring_abi.c); an
  entry that the kernel cannot have written stops the ring with :class:`RingError` instead
  of being guessed at.
* A :class:`~tcmu_scst.uio.fast_lane.FastLane` attached to the ring lets ``ring_scan``
  complete plain reads and writes of a memory-backed disk itself; ``fetch`` then returns
  only the other commands.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .abi import (
    CAP_OOOC,
    CAP_READ_LEN,
    IOV_OFFSET,
    MAILBOX_VERSION,
    OP_CMD,
    OP_TMR,
    SENSE_BUFFER_SIZE,
    TMR_IDS_OFFSET,
    UFLAG_READ_LEN,
    ffi,
    lib,
)
from .fast_lane import FastLane

if TYPE_CHECKING:
    from ..handlers.alua import TargetPort

# Length of a CDB by its opcode's group (SPC: the top three bits of the opcode).
CDB_LENGTH_BY_GROUP = (6, 10, 10, 12, 16, 12, 10, 10)
VARIABLE_LENGTH_OPCODE = 0x7F
ZERO_CHUNK = memoryview(bytes(1 << 20))
GOOD = 0x00


class RingError(RuntimeError):
    """The ring's contents or its use break the protocol; the device needs a ring reset."""


def cdb_length(cdb_head: bytes) -> int:
    """Bytes in a CDB, from its first bytes (variable-length CDBs carry their own length).

    The rule ``ring_scan`` applies in C; here for code that builds CDBs (tests, tools)."""
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


# One ring_scan record (see csrc/ring_abi.c): cdb_off first_base data_length position length
# opcode cmd_id cdb_length iov_cnt iov_bidi_cnt reserved
_SCAN_RECORD = struct.Struct("<QQQIIIIIII4x")
assert _SCAN_RECORD.size == ffi.sizeof("struct ring_scan_record")
RECORD_SIZE = _SCAN_RECORD.size
SCAN_BATCH = 256  # records per ring_scan call; a fetch calls again while entries remain
_SENSE_OFFSET = 16
_ANY_SLOT = 0xFFFFFFFF  # ring_respond: out-of-order completion, the oldest CMD slot
_IOVECS = [struct.Struct(f"<{2 * count}Q") for count in range(64)]


def _iovec_struct(count: int) -> struct.Struct:
    return _IOVECS[count] if count < len(_IOVECS) else struct.Struct(f"<{2 * count}Q")


class Ring:
    """Consumer of one device's command ring in ``memory`` (the whole shared mapping)."""

    def __init__(self, memory: Any, doorbell: Callable[[], None],
                 on_tmr: Callable[[TmrNotice], None] | None = None):
        self._view = memoryview(memory)
        # the target port this ring serves, for a device with one ring per port (ALUA)
        self.port: TargetPort | None = None
        self._base = ffi.from_buffer("char[]", memory, require_writable=True)
        self._mailbox = ffi.cast("struct ring_mailbox *", self._base)
        if self._mailbox.version != MAILBOX_VERSION:
            raise RingError(f"mailbox version {self._mailbox.version}, expected {MAILBOX_VERSION}")
        self.flags = self._mailbox.flags
        self._ring_off = self._mailbox.cmdr_off
        self._ring_size = self._mailbox.cmdr_size
        self._state = ffi.new("struct ring_state *")
        self._state.map = ffi.cast("uint8_t *", self._base)
        self._state.map_size = len(self._view)
        self._state.ring_off = self._ring_off
        self._state.ring_size = self._ring_size
        self._next = self._mailbox.cmd_tail  # first entry not yet fetched
        self._state.tail = self._next  # first slot not yet reported complete (C updates it)
        self._records = ffi.new("struct ring_scan_record[]", SCAN_BATCH)
        self._record_view = memoryview(ffi.buffer(self._records))
        self._doorbell = doorbell
        self.on_tmr = on_tmr
        self._published = self._next
        self.in_flight = 0
        self._out_of_order = bool(self.flags & CAP_OOOC)
        self._read_len = bool(self.flags & CAP_READ_LEN)
        # in-order mode only: [offset, length, done] for each slot between tail and next
        self._slots: deque[list[int]] = deque()
        # the lane's C struct must outlive the ring's pointer to it: keep it referenced
        self.lane: FastLane | None = None

    def attach_lane(self, lane: FastLane | None) -> bool:
        """Let ``fetch`` complete the commands ``lane`` can serve (None detaches it).

        Only with out-of-order completion: lane commands are answered while commands before
        them may still be running.  False when the kernel does not offer it.
        """
        if lane is not None and not self._out_of_order:
            return False
        self.lane = lane
        self._state.lane = ffi.NULL if lane is None else lane.struct
        return True

    @property
    def scan_state(self) -> Any:
        """The C ``struct ring_state *`` the compiled walkers share (see watch.py)."""
        return self._state

    def caught_up(self) -> None:
        """The compiled watch walked past entries the lane served: fetch from there on."""
        self._next = self._state.next

    def pending(self) -> bool:
        """Whether the kernel has published entries that were not fetched yet."""
        return lib.ring_load_head(self._mailbox) != self._next

    def fetch(self) -> list[Command]:
        """Every command published since the last fetch (PAD skipped, TMR to ``on_tmr``),
        except those an attached fast lane completed on the way."""
        head = lib.ring_load_head(self._mailbox)
        if self._next == head:
            return []
        commands: list[Command] = []
        append = commands.append
        view = self._view
        in_order = not self._out_of_order
        new = Command.__new__
        state = self._state
        state.next = self._next
        scan = lib.ring_scan
        records = self._records
        while state.next != head:
            count = scan(state, head, records, SCAN_BATCH)
            if count < 0:
                raise RingError(f"entry at {state.next} is not a valid TCMU entry")
            for (cdb_off, base, total, position, length, opcode, cmd_id, cdb_size, iov_count,
                 bidi_count) in _SCAN_RECORD.iter_unpack(self._record_view[: count * RECORD_SIZE]):
                if opcode == OP_CMD:
                    command = new(Command)
                    command.ring = self
                    command.cmd_id = cmd_id
                    command.cdb = view[cdb_off : cdb_off + cdb_size].tobytes()
                    command.slot = position
                    command.completed = False
                    command.data_length = total
                    if iov_count == 1 and not bidi_count:  # the common case: one buffer
                        command.iovecs = [view[base : base + total]]
                        command.bidi_iovecs = []
                    else:
                        self._scattered(command, self._ring_off + position, iov_count,
                                        bidi_count)
                    append(command)
                elif opcode == OP_TMR:
                    self._take_tmr(self._ring_off + position)
                if in_order:
                    self._slots.append([position, length, opcode != OP_CMD])
        self._next = head
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

        slot = lib.ring_respond(self._state, _ANY_SLOT if self._out_of_order else command.slot,
                                command.cmd_id | uflags << 16 | status << 24 | read_len << 32)
        if slot < 0:
            raise RingError("completion without a fetched command slot")
        if sense:
            entry = self._ring_off + slot + _SENSE_OFFSET
            self._view[entry : entry + SENSE_BUFFER_SIZE] = (
                sense[:SENSE_BUFFER_SIZE].ljust(SENSE_BUFFER_SIZE, b"\0"))
        self.in_flight -= 1
        if not self._out_of_order:
            self._mark_done(command.slot)

    def _mark_done(self, slot: int) -> None:
        for record in self._slots:
            if record[0] == slot:
                record[2] = True
                break
        while self._slots and self._slots[0][2]:
            position, length, _ = self._slots.popleft()
            self._state.tail = (position + length) % self._ring_size

    def flush(self) -> bool:
        """Publish completions and ring the doorbell once; False when there was nothing new."""
        state = self._state
        if self.in_flight == 0:
            # only PAD/TMR slots can remain: let the kernel reclaim them too
            state.tail = self._next
            self._slots.clear()
        tail = state.tail
        if tail == self._published:
            return False
        lib.ring_store_tail(self._mailbox, tail)
        self._published = tail
        self._doorbell()
        return True

    def close(self) -> None:
        """Drop every reference into the mapping so that it can be unmapped (idempotent)."""
        if self._mailbox is None:
            return
        self.attach_lane(None)
        self._mailbox = None
        ffi.release(self._base)
        self._record_view.release()
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
