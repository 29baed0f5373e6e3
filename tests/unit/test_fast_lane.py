"""The ring's fast lane: plain READ/WRITE(10/16) of memory-backed and null disks answered by
the compiled ring walk, everything unusual given back to the Python SCSI path unchanged."""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.dataplane.disk_lane import ENVIRONMENT_SWITCH
from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.handlers import vdisk_fileio, vdisk_nullio
from tcmu_scst.handlers.backend import MappedFileBackend
from tcmu_scst.handlers.disk import BlockDevice, DiskSettings
from tcmu_scst.testing.ring_emulator import STALE_MARKER, Completion, RingEmulator
from tcmu_scst.uio.abi import CAP_READ_LEN

pytestmark = pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no tmpfs at /dev/shm")
DISK_BYTES = 1 << 20
BLOCK = 512
CHECK_CONDITION = 0x02


def read_10(lba: int, blocks: int, flags: int = 0) -> bytes:
    return struct.pack(">BBIBHB", 0x28, flags, lba, 0, blocks, 0)


def write_10(lba: int, blocks: int, flags: int = 0) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, flags, lba, 0, blocks, 0)


def read_16(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBQIBB", 0x88, 0, lba, blocks, 0, 0)


def write_16(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBQIBB", 0x8A, 0, lba, blocks, 0, 0)


class Harness:
    """One device served by a data plane over a RingEmulator (scattered data blocks)."""

    def __init__(self, device: BlockDevice, flags: int | None = None):
        options = {} if flags is None else {"flags": flags}
        self.emulator = RingEmulator(ring_bytes=64 * 1024, data_blocks=128, scatter=True,
                                     **options)
        self.device = device
        self.io = IoThreads(1)
        self.plane = DataPlane(self.io)
        self.server = DeviceServer("lane", self.emulator, self.emulator.ring(), device, self.io)
        self.plane.add(self.server)

    @property
    def lane_served(self) -> int:
        return self.server.lane.lane.served if self.server.lane else 0

    def run(self, cdb: bytes, data_out: bytes = b"", data_in_length: int = 0) -> Completion:
        self.emulator.submit(cdb, data_out=data_out, data_in_length=data_in_length)
        for _ in range(100):
            self.plane.run_once(timeout=1)
            completions = self.emulator.reap()
            if completions:
                (completion,) = completions
                return completion
        raise AssertionError("no completion")

    def close(self) -> None:
        self.io.stop()
        self.plane.close()
        self.emulator.close()


@pytest.fixture
def memory_file() -> Iterator[str]:
    with tempfile.NamedTemporaryFile(dir="/dev/shm") as image:
        image.write(bytes(DISK_BYTES))
        image.flush()
        yield image.name


def fileio(path: str, **settings: bool) -> BlockDevice:
    device = vdisk_fileio.open_device("lane", path, DiskSettings(**settings))
    assert isinstance(device.backend, MappedFileBackend)
    return device


@pytest.fixture
def harness(memory_file: str) -> Iterator[Harness]:
    harness = Harness(fileio(memory_file))
    yield harness
    harness.close()
    harness.device.backend.close()


def sense_code(completion: Completion) -> tuple[int, int, int]:
    return completion.sense[2] & 0x0F, completion.sense[12], completion.sense[13]


def test_reads_and_writes_of_10_and_16_bytes_take_the_lane(harness: Harness,
                                                            memory_file: str) -> None:
    assert harness.server.lane is not None
    payload = bytes(range(256)) * 48  # 24 blocks in three scattered 4 KiB data blocks
    assert harness.run(write_10(7, 24), data_out=payload).status == 0
    assert harness.run(write_16(100, 24), data_out=payload[::-1]).status == 0
    with open(memory_file, "rb") as image:
        image.seek(7 * BLOCK)
        assert image.read(len(payload)) == payload
    assert harness.run(read_10(7, 24), data_in_length=len(payload)).data_in == payload
    assert harness.run(read_16(100, 24), data_in_length=len(payload)).data_in == payload[::-1]
    assert harness.lane_served == 4
    assert harness.server.commands_served == 4


def test_unusual_commands_are_answered_by_the_scsi_path(harness: Harness) -> None:
    payload = b"\xAB" * BLOCK
    fua = harness.run(write_10(3, 1, flags=0x08), data_out=payload)  # written through
    assert fua.status == 0
    protected = harness.run(read_10(0, 1, flags=0x20), data_in_length=BLOCK)  # RDPROTECT
    assert protected.status == CHECK_CONDITION
    assert sense_code(protected) == (0x5, 0x24, 0x00)
    past_end = harness.run(read_16(DISK_BYTES // BLOCK, 1), data_in_length=BLOCK)
    assert sense_code(past_end) == (0x5, 0x21, 0x00)
    wrapping = harness.run(read_16(2**64 - 1, 2), data_in_length=2 * BLOCK)
    assert sense_code(wrapping) == (0x5, 0x21, 0x00)
    # a Data-In buffer longer than the blocks named: the rest must not go out stale
    longer = harness.run(read_10(3, 1), data_in_length=2 * BLOCK)
    assert longer.status == 0 and longer.data_in[:BLOCK] == payload
    assert STALE_MARKER not in longer.data_in
    empty = harness.run(read_10(3, 0))
    assert empty.status == 0
    assert harness.lane_served == 0
    assert harness.server.commands_served == 6


def test_a_pending_unit_attention_closes_the_lane_until_it_is_reported(harness: Harness) -> None:
    harness.device.queue_unit_attention(0x2A, 0x09)
    first = harness.run(read_10(0, 1), data_in_length=BLOCK)
    assert first.status == CHECK_CONDITION and sense_code(first) == (0x6, 0x2A, 0x09)
    assert harness.lane_served == 0
    assert harness.run(read_10(0, 1), data_in_length=BLOCK).status == 0
    assert harness.lane_served == 1


def test_writes_stay_out_of_the_lane_while_compare_and_write_holds_the_lock(
        harness: Harness, memory_file: str) -> None:
    harness.device.atomic_lock.acquire()
    harness.emulator.submit(write_10(9, 1), data_out=b"\x5A" * BLOCK)
    harness.plane.run_once(timeout=1)
    assert harness.emulator.reap() == []  # waits for the lock on an I/O thread
    assert harness.lane_served == 0
    assert harness.run(read_10(9, 1), data_in_length=BLOCK).data_in == bytes(BLOCK)
    assert harness.lane_served == 1  # reads still pass
    harness.device.atomic_lock.release()
    for _ in range(100):
        harness.plane.run_once(timeout=1)
        completions = harness.emulator.reap()
        if completions:
            break
    assert [completion.status for completion in completions] == [0]
    assert Path(memory_file).read_bytes()[9 * BLOCK : 10 * BLOCK] == b"\x5A" * BLOCK
    assert not harness.device.atomic_lock.locked()


def test_read_only_and_write_through_devices_keep_writes_out(memory_file: str) -> None:
    for settings, expected in (({"read_only": True}, (0x7, 0x27, 0x00)),
                               ({"write_through": True}, None)):
        harness = Harness(fileio(memory_file, **settings))
        try:
            write = harness.run(write_10(1, 1), data_out=b"\x11" * BLOCK)
            if expected is None:
                assert write.status == 0
            else:
                assert sense_code(write) == expected
            assert harness.lane_served == 0
            assert harness.run(read_10(1, 1), data_in_length=BLOCK).status == 0
            assert harness.lane_served == 1
        finally:
            harness.close()
            harness.device.backend.close()


def test_a_null_disk_reads_zeros_through_the_lane() -> None:
    harness = Harness(vdisk_nullio.open_device("null", DISK_BYTES))
    try:
        completion = harness.run(read_16(5, 16), data_in_length=16 * BLOCK)
        assert completion.data_in == bytes(16 * BLOCK)  # every stale marker overwritten
        assert harness.run(write_10(5, 1), data_out=b"x" * BLOCK).status == 0
        assert harness.lane_served == 2
    finally:
        harness.close()


def test_no_lane_without_out_of_order_completion_or_when_switched_off(
        memory_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    in_order = Harness(fileio(memory_file), flags=CAP_READ_LEN)
    try:
        assert in_order.server.lane is None
        assert in_order.run(read_10(0, 1), data_in_length=BLOCK).status == 0
    finally:
        in_order.close()
        in_order.device.backend.close()
    monkeypatch.setenv(ENVIRONMENT_SWITCH, "0")
    switched_off = Harness(fileio(memory_file))
    try:
        assert switched_off.server.lane is None
    finally:
        switched_off.close()
        switched_off.device.backend.close()


def test_no_lane_for_a_file_that_is_not_in_memory(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(DISK_BYTES))
    harness = Harness(vdisk_fileio.open_device("disk", str(image), DiskSettings()))
    try:
        if isinstance(harness.device.backend, MappedFileBackend):
            pytest.skip("the temporary directory is on tmpfs here")
        assert harness.server.lane is None
        assert harness.run(read_10(0, 1), data_in_length=BLOCK).status == 0
    finally:
        harness.close()
