"""Random CDBs through the whole data path: ring, server, SCSI emulation, backends, threads.

The RingEmulator plays the kernel with scattered data blocks and marks every Data-In block
with a stale-data marker, so the test sees any byte a handler leaves unwritten.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.handlers import vdisk_fileio, vdisk_nullio
from tcmu_scst.handlers.backend import MappedFileBackend
from tcmu_scst.handlers.disk import DiskSettings, ScsiDevice
from tcmu_scst.testing.ring_emulator import STALE_MARKER, Completion, RingEmulator, RingFullError
from tcmu_scst.uio.ring import cdb_length

KNOWN_OPCODES = (0x00, 0x03, 0x08, 0x0A, 0x12, 0x1A, 0x25, 0x28, 0x2A, 0x2E, 0x2F, 0x34, 0x35,
                 0x5A, 0x88, 0x8A, 0x8E, 0x8F, 0x90, 0x91, 0x9E, 0xA8, 0xAA, 0xAE, 0xAF)
DISK_BYTES = 1 << 20
VALID_SENSE_KEYS = {0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0xE}


def random_command(rng: random.Random, blocks: int) -> tuple[bytes, bytes, int]:
    opcode = rng.choice(KNOWN_OPCODES) if rng.random() < 0.7 else rng.randrange(256)
    cdb = bytearray(rng.randbytes(cdb_length(bytes([opcode]) + bytes(15))))
    cdb[0] = opcode
    if opcode in (0x28, 0x2A, 0x88, 0x8A, 0xA8, 0xAA) and rng.random() < 0.8:
        # mostly valid transfers, so the I/O paths run as often as the error paths
        count = rng.randrange(0, 17)
        lba = rng.randrange(0, blocks - count + 1) if rng.random() < 0.9 else blocks
        if len(cdb) == 10:
            cdb[2:6], cdb[7:9] = lba.to_bytes(4, "big"), count.to_bytes(2, "big")
        elif len(cdb) == 12:
            cdb[2:6], cdb[6:10] = lba.to_bytes(4, "big"), count.to_bytes(4, "big")
        else:
            cdb[2:10], cdb[10:14] = lba.to_bytes(8, "big"), count.to_bytes(4, "big")
        cdb[1] &= 0x08
        length = count * 512 + rng.choice((0, 0, 0, 512, -512 if count else 0))
        if opcode in (0x2A, 0x8A, 0xAA):
            return bytes(cdb), rng.randbytes(length), 0
        return bytes(cdb), b"", length
    direction = rng.randrange(3)
    length = rng.randrange(0, 70000)
    if direction == 0:
        return bytes(cdb), rng.randbytes(length), 0
    if direction == 1:
        return bytes(cdb), b"", length
    return bytes(cdb), b"", 0


def check_completion(completion: Completion) -> None:
    assert completion.status in (0x00, 0x02), completion
    if completion.status == 0x02:
        assert completion.sense[0] == 0x70
        assert completion.sense[2] & 0x0F in VALID_SENSE_KEYS
    if completion.data_in is not None:
        assert STALE_MARKER not in completion.data_in, "stale data left the data area"


def fuzz(device: ScsiDevice, count: int, seed: int) -> tuple[dict[int, int], int]:
    """Statuses seen, and how many commands the fast lane answered."""
    emulator = RingEmulator(ring_bytes=32 * 1024, data_blocks=256, scatter=True, seed=seed)
    rng = random.Random(seed)
    io = IoThreads(2)
    plane = DataPlane(io)
    server = DeviceServer("fuzz", emulator, emulator.ring(), device, io)
    plane.add(server)
    submitted = reaped = 0
    statuses: dict[int, int] = {}
    blocks = DISK_BYTES // 512
    while reaped < count:
        while submitted < count:
            cdb, data_out, data_in_length = random_command(rng, blocks)
            try:
                emulator.submit(cdb, data_out=data_out, data_in_length=data_in_length)
            except RingFullError:
                break
            submitted += 1
        plane.run_once(timeout=5)
        for completion in emulator.reap():
            check_completion(completion)
            statuses[completion.status] = statuses.get(completion.status, 0) + 1
            reaped += 1
    assert emulator.queued == {}, "every command must be completed exactly once"
    assert server.ring.in_flight == 0
    assert server.commands_served == count
    lane_served = server.lane.lane.served if server.lane else 0
    io.stop()
    plane.close()
    emulator.close()
    return statuses, lane_served


def test_hundred_thousand_random_cdbs_on_a_file_disk(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(DISK_BYTES))
    device = vdisk_fileio.open_device("fuzz", str(image), DiskSettings())
    statuses, _ = fuzz(device, 100_000, seed=1)
    assert statuses[0x00] > 10_000 and statuses[0x02] > 10_000  # both paths exercised


def test_random_cdbs_on_a_null_disk() -> None:
    device = vdisk_nullio.open_device("fuzz", DISK_BYTES)
    _, lane_served = fuzz(device, 20_000, seed=2)
    assert lane_served > 300  # the fast lane took its share (about 4 %) of the commands


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no tmpfs at /dev/shm")
def test_random_cdbs_on_a_disk_in_memory() -> None:
    """The same, on tmpfs, where the backend copies through a mapping of the file."""
    with tempfile.NamedTemporaryFile(dir="/dev/shm") as image:
        image.write(bytes(DISK_BYTES))
        image.flush()
        device = vdisk_fileio.open_device("fuzz", image.name, DiskSettings())
        assert isinstance(device.backend, MappedFileBackend)
        _, lane_served = fuzz(device, 20_000, seed=3)
        assert lane_served > 300  # the fast lane took its share (about 4 %) of the commands
        device.backend.close()
