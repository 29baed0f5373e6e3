"""The data plane's polling after a wake-up: commands that arrive meanwhile are served
without another wake-up, and the loop always comes back to its other inputs."""

from __future__ import annotations

import threading
import time

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.handlers import vdisk_nullio
from tcmu_scst.testing.ring_emulator import RingEmulator

# not a READ or WRITE: those a nullio disk serves in the fast lane, past execute()
TEST_UNIT_READY = bytes(6)


class Plane:
    def __init__(self, poll_microseconds: int, hold_microseconds: int = 0):
        self.emulator = RingEmulator(ring_bytes=256 * 1024, data_blocks=256)
        self.io = IoThreads(1)
        self.plane = DataPlane(self.io, poll_microseconds, hold_microseconds)
        self.server = DeviceServer("n", self.emulator, self.emulator.ring(),
                                   vdisk_nullio.open_device("n", 1 << 20), self.io)
        self.plane.add(self.server)
        self.lock = threading.Lock()  # the emulator's producer side is not thread-safe

    def submit(self) -> None:
        with self.lock:
            self.emulator.submit(TEST_UNIT_READY)

    def close(self) -> None:
        self.io.stop()
        self.plane.close()
        self.emulator.close()


def test_a_command_arriving_while_polling_is_served_in_the_same_wake_up():
    plane = Plane(poll_microseconds=2_000_000)
    device = plane.server.device
    execute = device.execute
    follow_ups = [1]

    def execute_and_post_another(command):  # the initiator sends more while we work
        if follow_ups.pop() if follow_ups else 0:
            plane.submit()
        return execute(command)

    plane.server.device.execute = execute_and_post_another  # type: ignore[method-assign]
    try:
        plane.submit()
        plane.plane.run_once(timeout=5)
        with plane.lock:
            completions = plane.emulator.reap()
        assert [completion.status for completion in completions] == [0, 0]
        assert plane.server.commands_served == 2
        # the second command never woke the loop through its fd: it was found by polling
        assert plane.emulator.acknowledge()  # its wake-up event is still unread
        assert plane.emulator.doorbells == 2  # one per batch
    finally:
        plane.close()


def chain(plane: Plane, follow_ups: list[bool]) -> None:
    """Make the n-th command executed post one more when ``follow_ups[n]`` is true, as an
    initiator with a queue does while we work."""
    execute = plane.server.device.execute
    count = iter(follow_ups)

    def execute_and_post(command):
        if next(count, False):
            plane.submit()
        return execute(command)

    plane.server.device.execute = execute_and_post  # type: ignore[method-assign]


def run_two_then_a_chain(hold_microseconds: int) -> Plane:
    """Two commands at once, then two more one after the other."""
    plane = Plane(poll_microseconds=300_000, hold_microseconds=hold_microseconds)
    chain(plane, [False, True, True, False])
    plane.submit()
    plane.submit()
    plane.plane.run_once(timeout=5)
    with plane.lock:
        assert [completion.status for completion in plane.emulator.reap()] == [0, 0, 0, 0]
    return plane


def test_without_holding_every_batch_rings_the_doorbell():
    plane = run_two_then_a_chain(hold_microseconds=0)
    try:
        assert plane.emulator.doorbells == 3
        assert not plane.plane.holding
    finally:
        plane.close()


def test_holding_gathers_batches_that_follow_each_other_into_one_doorbell():
    plane = run_two_then_a_chain(hold_microseconds=50_000)
    try:
        # the first two went at once (nothing said yet that the initiator queues); the
        # next two, served one by one, went back together
        assert plane.emulator.doorbells == 2
        assert plane.plane.holding
    finally:
        plane.close()


def test_a_hold_that_gathers_nothing_more_stops_holding():
    plane = run_two_then_a_chain(hold_microseconds=20_000)
    try:
        plane.submit()  # alone: the hold waits 20 ms for company that never comes
        plane.plane.run_once(timeout=5)
        with plane.lock:
            assert [completion.status for completion in plane.emulator.reap()] == [0]
        assert plane.emulator.doorbells == 3
        assert not plane.plane.holding  # the next lone command goes back at once
    finally:
        plane.close()


def test_polling_ends_when_the_ring_stays_empty():
    plane = Plane(poll_microseconds=1_000)
    try:
        plane.submit()
        plane.plane.run_once(timeout=5)  # returns: nothing else arrives
        assert plane.server.commands_served == 1
    finally:
        plane.close()


def test_a_ring_that_never_goes_quiet_does_not_keep_the_loop_from_its_other_inputs():
    plane = Plane(poll_microseconds=1_000_000)
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            plane.submit()
            with plane.lock:
                plane.emulator.reap()
            time.sleep(0.0005)

    feeder = threading.Thread(target=flood)
    try:
        plane.submit()
        feeder.start()
        plane.plane.run_once(timeout=5)  # comes back after MAX_POLL_BURST_NS at the latest
        assert plane.server.commands_served > 1
    finally:
        stop.set()
        feeder.join()
        plane.close()
