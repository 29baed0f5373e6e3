"""The data plane's polling after a wake-up: commands that arrive meanwhile are served
without another wake-up, and the loop always comes back to its other inputs."""

from __future__ import annotations

import threading
import time

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.handlers import vdisk_nullio
from tcmu_scst.uio.emulator import RingEmulator

READ_10_ONE_BLOCK = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])


class Plane:
    def __init__(self, poll_microseconds: int):
        self.emulator = RingEmulator(ring_bytes=256 * 1024, data_blocks=256)
        self.io = IoThreads(1)
        self.plane = DataPlane(self.io, poll_microseconds)
        self.server = DeviceServer("n", self.emulator, self.emulator.ring(),
                                   vdisk_nullio.open_device("n", 1 << 20), self.io)
        self.plane.add(self.server)
        self.lock = threading.Lock()  # the emulator's producer side is not thread-safe

    def submit(self) -> None:
        with self.lock:
            self.emulator.submit(READ_10_ONE_BLOCK, data_in_length=512)

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
