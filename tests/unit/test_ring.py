"""The ring consumer against the RingEmulator (the kernel's side, same memory layout)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from tcmu_scst.testing.ring_emulator import (
    STALE_MARKER,
    RingBrokenError,
    RingEmulator,
    RingFullError,
)
from tcmu_scst.uio.abi import CAP_OOOC, CAP_READ_LEN, OP_CMD, UFLAG_UNKNOWN_OP
from tcmu_scst.uio.ring import Command, Ring, RingError, TmrNotice, cdb_length

INQUIRY = bytes([0x12, 0, 0, 0, 96, 0])
WRITE_10 = bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0])
TUR = bytes(6)


@pytest.fixture
def emulator() -> Iterator[RingEmulator]:
    emulator = RingEmulator()
    yield emulator
    emulator.close()


def test_cdb_lengths_follow_the_opcode_group() -> None:
    assert [cdb_length(bytes([op]) + bytes(15)) for op in (0x00, 0x28, 0x5A, 0xA0, 0x88)] == [
        6, 10, 10, 12, 16]
    variable = bytes([0x7F, 0, 0, 0, 0, 0, 0, 0x18]) + bytes(24)
    assert cdb_length(variable) == 32


def test_command_carries_cdb_and_zero_copy_data_out(emulator: RingEmulator) -> None:
    payload = bytes(range(256)) * 16
    emulator.submit(WRITE_10, data_out=payload)
    ring = emulator.ring()
    [command] = ring.fetch()
    assert command.cdb == WRITE_10
    assert command.read_data_out() == payload
    assert command.data_length == 4096
    # the views are the shared memory itself: what we write the "kernel" sees
    command.iovecs[0][:4] = b"ZERO"
    assert emulator.memory.find(b"ZEROCOPY"[:4]) >= emulator.data_off
    command.complete()
    assert ring.flush()
    [completion] = emulator.reap()
    assert (completion.cmd_id, completion.status) == (command.cmd_id, 0)


def test_short_data_in_is_reported_with_read_len(emulator: RingEmulator) -> None:
    emulator.submit(INQUIRY, data_in_length=96)
    ring = emulator.ring()
    [command] = ring.fetch()
    command.write_data_in(b"A" * 36)
    command.complete(data_in_length=36)
    ring.flush()
    [completion] = emulator.reap()
    assert completion.data_in == b"A" * 36
    assert completion.residual == 60


def test_without_read_len_the_rest_is_zero_filled() -> None:
    emulator = RingEmulator(flags=CAP_OOOC)
    emulator.submit(INQUIRY, data_in_length=96)
    ring = emulator.ring()
    [command] = ring.fetch()
    command.write_data_in(b"A" * 36)
    command.complete(data_in_length=36)
    ring.flush()
    [completion] = emulator.reap()
    assert completion.data_in == b"A" * 36 + bytes(60)
    assert STALE_MARKER not in completion.data_in
    emulator.close()


def test_data_in_of_nothing_is_zeroed_not_stale(emulator: RingEmulator) -> None:
    emulator.submit(TUR, data_in_length=512)  # an initiator may attach a buffer to anything
    ring = emulator.ring()
    [command] = ring.fetch()
    command.complete(data_in_length=0)
    ring.flush()
    [completion] = emulator.reap()
    assert completion.data_in == bytes(512)


def test_check_condition_carries_sense_and_no_data(emulator: RingEmulator) -> None:
    emulator.submit(INQUIRY, data_in_length=96)
    ring = emulator.ring()
    [command] = ring.fetch()
    sense = bytes([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0])
    command.complete(status=0x02, sense=sense)
    ring.flush()
    [completion] = emulator.reap()
    assert completion.status == 0x02
    assert completion.sense == sense.ljust(96, b"\0")
    assert completion.data_in is None


def test_out_of_order_completion_reports_every_command_once(emulator: RingEmulator) -> None:
    ids = [emulator.submit(TUR) for _ in range(5)]
    ring = emulator.ring()
    commands = ring.fetch()
    assert [command.cmd_id for command in commands] == ids
    for command in reversed(commands[2:]):
        command.complete()
    ring.flush()
    assert sorted(c.cmd_id for c in emulator.reap()) == sorted(ids[2:])
    commands[1].complete()
    commands[0].complete()
    ring.flush()
    assert sorted(c.cmd_id for c in emulator.reap()) == sorted(ids[:2])
    assert emulator.queued == {}


def test_in_order_kernel_waits_for_the_oldest() -> None:
    emulator = RingEmulator(flags=CAP_READ_LEN)  # no OOOC
    ids = [emulator.submit(TUR) for _ in range(3)]
    ring = emulator.ring()
    commands = ring.fetch()
    commands[2].complete()
    commands[1].complete()
    assert not ring.flush()  # the oldest is still running: nothing may be reported yet
    assert emulator.reap() == []
    commands[0].complete()
    assert ring.flush()
    assert [c.cmd_id for c in emulator.reap()] == ids  # each in its own slot, in ring order
    emulator.close()


def test_wrap_inserts_pad_and_ring_keeps_going() -> None:
    # 872 ring bytes hold six 128-byte entries and leave 104: a PAD at every wrap
    emulator = RingEmulator(ring_bytes=1000, flags=CAP_OOOC | CAP_READ_LEN)
    ring = emulator.ring()
    for round_number in range(200):
        emulator.submit(WRITE_10, data_out=bytes([round_number % 256]) * 4096)
        [command] = ring.fetch()
        assert command.read_data_out() == bytes([round_number % 256]) * 4096
        command.complete(data_in_length=None)
        ring.flush()
        assert len(emulator.reap()) == 1
    assert emulator.pads_written == 200 // 6
    emulator.close()


def test_full_ring_is_reported_by_the_emulator() -> None:
    emulator = RingEmulator(ring_bytes=1024)
    with pytest.raises(RingFullError):
        for _ in range(100):
            emulator.submit(TUR)
    emulator.close()


def test_tmr_entries_reach_the_handler_and_are_stepped_over(emulator: RingEmulator) -> None:
    first = emulator.submit(TUR)
    second = emulator.submit(TUR)
    emulator.submit_tmr(5, [first, second])
    notices: list[TmrNotice] = []
    ring = emulator.ring(on_tmr=notices.append)
    commands = ring.fetch()
    assert notices == [TmrNotice(5, (first, second))]
    assert len(commands) == 2
    for command in commands:
        command.complete()
    ring.flush()
    assert len(emulator.reap()) == 2
    assert emulator._last_cleaned == emulator._head  # the TMR slot was reclaimed too


def test_completing_twice_is_refused(emulator: RingEmulator) -> None:
    emulator.submit(TUR)
    ring = emulator.ring()
    [command] = ring.fetch()
    command.complete()
    with pytest.raises(RingError):
        command.complete()


def test_emulator_rejects_unknown_completion_like_the_kernel(emulator: RingEmulator) -> None:
    emulator.submit(TUR)
    ring = emulator.ring()
    [command] = ring.fetch()
    command.cmd_id = 999
    command.complete()
    ring.flush()
    with pytest.raises(RingBrokenError):
        emulator.reap()


def test_scattered_blocks_become_several_iovecs() -> None:
    emulator = RingEmulator(scatter=True, seed=7)
    payload = bytes(range(256)) * 64  # 16 KiB over four blocks placed at random
    emulator.submit(WRITE_10, data_out=payload)
    ring = emulator.ring()
    [command] = ring.fetch()
    assert len(command.iovecs) > 1
    assert command.read_data_out() == payload
    assert command.read_data_out(5000) == payload[:5000]
    command.complete(data_in_length=None)
    ring.flush()
    emulator.reap()
    emulator.close()


def test_ring_refuses_a_mailbox_of_another_version() -> None:
    memory = bytearray(8192)
    memory[0] = 1
    with pytest.raises(RingError, match="version 1"):
        Ring(memory, lambda: None)


def test_mapping_can_be_closed_after_the_ring(emulator: RingEmulator) -> None:
    emulator.submit(TUR)
    ring = emulator.ring()
    commands: list[Command] = ring.fetch()
    commands[0].complete()
    ring.flush()
    ring.close()  # no views into the mapping may outlive the ring
    emulator.reap()


ENTRY = 128  # the first entry sits right after the mailbox in the emulator's layout


def _entry_length(emulator: RingEmulator) -> int:
    return struct.unpack_from("<I", emulator.memory, ENTRY)[0] & ~7


@pytest.mark.parametrize("field, corrupt", [
    ("zero length", lambda em: struct.pack_into("<I", em.memory, ENTRY, OP_CMD)),
    ("length past the ring's end",
     lambda em: struct.pack_into("<I", em.memory, ENTRY, (em.ring_size + 8) | OP_CMD)),
    ("more iovecs than the entry holds",
     lambda em: struct.pack_into("<I", em.memory, ENTRY + 8, 1000)),
    ("CDB outside the entry", lambda em: struct.pack_into("<Q", em.memory, ENTRY + 24, 0)),
    ("CDB after the entry",
     lambda em: struct.pack_into("<Q", em.memory, ENTRY + 24, ENTRY + _entry_length(em))),
])
def test_entries_the_kernel_cannot_have_written_are_refused(emulator: RingEmulator, field: str,
                                                            corrupt: object) -> None:
    emulator.submit(WRITE_10, data_out=bytes(4096))
    corrupt(emulator)  # type: ignore[operator]
    with pytest.raises(RingError, match="entry at 0"):
        emulator.ring().fetch()


def test_unknown_entry_opcode_is_flagged_and_skipped(emulator: RingEmulator) -> None:
    emulator.submit(TUR)
    length = _entry_length(emulator)
    struct.pack_into("<I", emulator.memory, ENTRY, length | 5)  # no such opcode
    emulator.submit(TUR)
    ring = emulator.ring()
    [command] = ring.fetch()  # only the second entry is a command
    assert command.slot == length
    assert emulator.memory[ENTRY + 7] == UFLAG_UNKNOWN_OP


def test_cdb_is_cut_at_the_end_of_its_entry(emulator: RingEmulator) -> None:
    emulator.submit(TUR)
    length = _entry_length(emulator)
    # a 16-byte opcode in the last 8 bytes of the entry: only those 8 belong to the CDB
    cdb_off = ENTRY + length - 8
    struct.pack_into("<Q", emulator.memory, ENTRY + 24, cdb_off)
    emulator.memory[cdb_off] = 0x88
    [command] = emulator.ring().fetch()
    assert command.cdb == bytes([0x88]) + bytes(7)
