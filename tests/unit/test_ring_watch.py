"""The compiled watch between wake-ups (uio/watch.py): it serves the fast lane's commands
itself, comes back to Python for anything else, and decides when completions are published."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.handlers import vdisk_nullio
from tcmu_scst.testing.ring_emulator import RingEmulator
from tcmu_scst.uio.abi import ffi
from tcmu_scst.uio.watch import ENTRY, IO, PUBLISH, QUIET, RingWatch

BLOCK = 512
TEST_UNIT_READY = bytes(6)
QUIET_NS = 50_000_000  # longer than any step of these tests takes
LIMIT_NS = 1_000_000_000


def read_10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


class Watched:
    """A null disk on an emulated ring, its server, and a watch over its ring."""

    def __init__(self, hold_ns: int = 0):
        self.emulator = RingEmulator(ring_bytes=64 * 1024, data_blocks=64)
        self.io = IoThreads(1)
        self.server = DeviceServer("w", self.emulator, self.emulator.ring(),
                                   vdisk_nullio.open_device("w", 1 << 20), self.io)
        self.counter = ffi.new("uint32_t *")
        self.watch = RingWatch(QUIET_NS, hold_ns, self.counter)
        self.watch.begin([self.server.ring], LIMIT_NS)

    def read(self, count: int) -> None:
        for index in range(count):
            self.emulator.submit(read_10(index, 1), data_in_length=BLOCK)

    def wait(self) -> int:
        lane = self.server.lane
        assert lane is not None
        locked = lane.open()
        try:
            return self.watch.wait()
        finally:
            lane.close(locked)

    def publish(self) -> list[int]:
        self.server.ring.flush()
        return [completion.status for completion in self.emulator.reap()]

    def close(self) -> None:
        self.io.stop()
        self.server.release()
        self.emulator.close()


@pytest.fixture
def watched() -> Iterator[Watched]:
    watched = Watched()
    yield watched
    watched.close()


def test_lane_commands_are_served_and_published_without_the_python_path(watched: Watched):
    watched.read(4)
    assert watched.wait() == PUBLISH
    assert watched.publish() == [0, 0, 0, 0]
    assert watched.server.lane is not None and watched.server.lane.served == 4
    assert watched.server.wakeups == 0  # no service call: Python never saw them
    assert not watched.server.ring.pending()


def test_an_entry_the_lane_does_not_serve_goes_to_python_in_order(watched: Watched):
    watched.read(1)
    watched.emulator.submit(TEST_UNIT_READY)
    watched.read(1)
    assert watched.wait() == PUBLISH  # the first READ, served before the TUR
    assert watched.publish() == [0]
    assert watched.wait() == ENTRY
    assert watched.watch.ring_index == 0
    assert watched.server.service(acknowledge=False, flush=False) == 2  # TUR, READ after it
    assert watched.publish() == [0, 0]
    assert watched.server.commands_served == 3


def test_a_closed_lane_leaves_reads_to_python(watched: Watched):
    watched.server.device.queue_unit_attention(0x2A, 0x09)
    watched.read(1)
    assert watched.wait() == ENTRY
    assert watched.server.service(acknowledge=False) == 1  # publishes too
    (completion,) = watched.emulator.reap()
    assert completion.status == 0x02  # the unit attention is reported first
    assert watched.server.lane is not None and watched.server.lane.served == 0


def test_holding_gathers_lane_commands_until_the_recent_peak():
    watched = Watched(hold_ns=QUIET_NS)
    try:
        assert watched.watch.note(2)  # a batch showed a queue: this one goes out at once
        assert watched.watch.holding
        watched.read(3)
        assert watched.wait() == PUBLISH  # 3 held >= the peak of 2
        assert watched.watch.held == 0 and watched.watch.holding
        assert watched.publish() == [0, 0, 0]
        watched.read(1)
        started = time.monotonic_ns()
        assert watched.wait() == PUBLISH  # 1 < the new peak of 3: out after hold_ns
        assert time.monotonic_ns() - started >= QUIET_NS
        assert watched.publish() == [0]
        assert not watched.watch.holding  # a gathering of one: a queue of one
    finally:
        watched.close()


def test_the_watch_ends_when_nothing_arrives(watched: Watched):
    started = time.monotonic_ns()
    watched.watch.begin([watched.server.ring], LIMIT_NS)
    assert watched.wait() == QUIET
    assert time.monotonic_ns() - started >= QUIET_NS


def test_the_watch_ends_at_its_limit_however_busy():
    watched = Watched()
    try:
        watched.watch.begin([watched.server.ring], 0)
        watched.read(1)
        assert watched.wait() == PUBLISH
        assert watched.wait() == QUIET  # the deadline never passes the limit
    finally:
        watched.close()


def test_finished_io_interrupts_the_watch(watched: Watched):
    watched.counter[0] += 1
    assert watched.wait() == IO
    watched.watch.taking_io()
    assert watched.wait() == QUIET


def test_the_data_plane_serves_a_stream_of_lane_reads_in_few_python_calls():
    """End to end through DataPlane.run_once: the first read wakes the loop, the rest are
    answered while it watches."""
    emulator = RingEmulator(ring_bytes=64 * 1024, data_blocks=64)
    io = IoThreads(1)
    plane = DataPlane(io, poll_microseconds=200_000, hold_microseconds=0)
    server = DeviceServer("s", emulator, emulator.ring(),
                          vdisk_nullio.open_device("s", 1 << 20), io)
    plane.add(server)
    try:
        emulator.submit(read_10(0, 1), data_in_length=BLOCK)
        for index in range(1, 20):
            emulator.submit(read_10(index, 1), data_in_length=BLOCK)
        plane.run_once(timeout=5)
        assert [completion.status for completion in emulator.reap()] == [0] * 20
        assert server.commands_served == 20
        assert server.wakeups <= 2  # add()'s first look and the wake-up's service call
    finally:
        io.stop()
        plane.close()
        emulator.close()
