"""The worker's side of hotplug: a vdisk_blockio disk detached and attached through the
control channel's ``backing`` requests (the worker's own ``apply_request``), its sense
codes, its unit attentions, and the descriptor of a device that went away.
"""

from __future__ import annotations

import errno
import gc
import os
import threading
import weakref
from pathlib import Path

import pytest

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.worker import apply_request
from tcmu_scst.handlers import block_backend, block_hotplug, vdisk_blockio, vdisk_fileio
from tcmu_scst.handlers.block_backend import BlockBackend, BlockGeometry
from tcmu_scst.handlers.outcome import DEFERRED_TYPE, NO_DATA
from tests.unit.scsi_harness import Harness, sense_of
from tests.unit.udev_fakes import FakeDisks, file_disk_class

SIZE = 1 << 20
TUR = bytes(6)
READ_CAPACITY_10 = bytes([0x25]) + bytes(9)
REQUEST_SENSE = bytes([0x03, 0, 0, 0, 18, 0])


def read_10(lba: int, blocks: int) -> bytes:
    return bytes([0x28, 0]) + lba.to_bytes(4, "big") + bytes([0]) + \
        blocks.to_bytes(2, "big") + bytes([0])


@pytest.fixture
def disks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDisks:
    disks = FakeDisks(tmp_path)
    backend = file_disk_class(disks)
    monkeypatch.setattr(vdisk_blockio, "BlockBackend", backend)
    monkeypatch.setattr(block_hotplug, "BlockBackend", backend)
    return disks


def plugged(disks: FakeDisks, tmp_path: Path, node: str = "sdb", size: int = SIZE) -> Path:
    data = tmp_path / f"{node}.img"
    data.write_bytes(os.urandom(size))
    disks.plug(node, data, "0x5000c500000000aa")
    return data


def control(devices: dict, name: str, attribute: str, value: str) -> dict:
    return apply_request(devices, {"id": 1, "device": name, "set": attribute, "value": value})


def test_detach_and_attach_through_the_control_channel(disks: FakeDisks,
                                                       tmp_path: Path) -> None:
    data = plugged(disks, tmp_path)
    device = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb"})
    devices = {"bio1": device}
    scsi = Harness(device)
    assert control(devices, "bio1", "backing", "") == {"ok": True}
    assert sense_of(scsi(TUR)) == (0x2, 0x04, 0x03)
    assert control(devices, "bio1", "backing", "") == {"ok": True}  # twice is harmless
    # the disk is not there yet: refused with the open's errno, still offline
    disks.unplug("sdb")
    answer = control(devices, "bio1", "backing", "/dev/sdc")
    assert answer["errno"] == errno.ENOENT
    assert device.offline
    # back, grown, at another node: two unit attentions, in order, then the new capacity
    os.truncate(data, 2 * SIZE)
    disks.plug("sdc", data, "0x5000c500000000aa")
    assert control(devices, "bio1", "backing", "/dev/sdc") == {"ok": True}
    sense = scsi(REQUEST_SENSE, data_in_length=18)  # REQUEST SENSE returns the first as data
    assert sense.status == 0 and (sense.data_in[2], sense.data_in[12]) == (0x6, 0x28)
    assert sense_of(scsi(TUR)) == (0x6, 0x2A, 0x09)
    assert scsi(TUR).status == 0
    capacity = scsi(READ_CAPACITY_10, data_in_length=8)
    assert int.from_bytes(capacity.data_in[:4], "big") == 2 * SIZE // 512 - 1
    assert scsi(read_10(0, 1), data_in_length=512).data_in == data.read_bytes()[:512]


def test_a_worker_restarted_while_the_disk_is_away_starts_offline(disks: FakeDisks,
                                                                  tmp_path: Path) -> None:
    data = plugged(disks, tmp_path)
    disks.unplug("sdb")
    # the supervisor hands the restarted worker the last "backing" it recorded
    device = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb", "backing": ""})
    scsi = Harness(device)
    assert sense_of(scsi(TUR)) == (0x2, 0x04, 0x03)
    assert sense_of(scsi(READ_CAPACITY_10, data_in_length=8)) == (0x2, 0x04, 0x03)
    disks.plug("sdd", data, "0x5000c500000000aa")
    device.set_attribute("backing", "/dev/sdd")
    assert sense_of(scsi(TUR)) == (0x6, 0x28, 0x00)
    assert sense_of(scsi(TUR)) == (0x6, 0x2A, 0x09)  # its size was unknown until now
    assert scsi(TUR).status == 0
    # and one restarted after the disk moved opens it where it is now
    moved = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb", "backing": "/dev/sdd"})
    assert Harness(moved)(TUR).status == 0
    moved.backend.close()


def test_a_disk_whose_blocks_no_longer_fit_is_not_attached(
        disks: FakeDisks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugged(disks, tmp_path)
    device = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb"})
    device.detach()

    class FourK(BlockBackend):
        def __init__(self, path: str, read_only: bool = False):
            super().__init__(disks.open(path), read_only, o_direct=False,
                             probe=lambda fd: BlockGeometry(SIZE, 4096, 4096))

    monkeypatch.setattr(block_hotplug, "BlockBackend", FourK)
    with pytest.raises(OSError) as refused:
        device.attach("/dev/sdb")
    assert refused.value.errno == errno.EINVAL and device.offline


def test_commands_in_flight_keep_the_old_descriptor_until_they_finish(
        disks: FakeDisks, tmp_path: Path) -> None:
    data = plugged(disks, tmp_path)
    device = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb"})
    scsi = Harness(device)
    scsi.emulator.submit(read_10(0, 1), data_in_length=512)
    [command] = scsi.ring.fetch()
    device.backend.nowait_reads = False  # as with O_DIRECT: every read needs an I/O thread
    run = device.execute(command)
    assert type(run) is DEFERRED_TYPE  # on its way to an I/O thread
    fd = device.backend.fd
    device.detach()
    gc.collect()
    os.fstat(fd)  # still open: the read still needs it
    outcome = run(False)
    assert outcome.status == 0 and bytes(command.iovecs[0][:512]) == data.read_bytes()[:512]
    command.complete(*outcome)
    del run, outcome, command
    gc.collect()
    with pytest.raises(OSError) as closed:
        os.fstat(fd)
    assert closed.value.errno == errno.EBADF


def test_a_transfer_failing_on_a_vanished_device_is_not_ready_not_a_medium_error(
        disks: FakeDisks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugged(disks, tmp_path)
    device = vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/sdb"})
    backend = device.backend

    def failing(*_: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(block_backend.os, "preadv", failing)
    scsi = Harness(device)
    backend._sysfs = tmp_path / "sys-dev-block-8:16"  # listed: the device is there
    backend._sysfs.mkdir()
    assert sense_of(scsi(read_10(0, 1), data_in_length=512)) == (0x3, 0x11, 0x00)
    backend._sysfs.rmdir()  # the kernel removed it
    assert sense_of(scsi(read_10(0, 1), data_in_length=512)) == (0x2, 0x04, 0x03)


def test_resync_size_raises_capacity_data_has_changed_on_any_disk(tmp_path: Path) -> None:
    image = tmp_path / "file.img"
    image.write_bytes(bytes(SIZE))
    device = vdisk_fileio.DECLARATION.build("f1", {"filename": str(image)})
    scsi = Harness(device)
    device.set_attribute("resync_size", "1")  # nothing changed: nothing to report
    assert scsi(TUR).status == 0
    os.truncate(image, 2 * SIZE)
    device.set_attribute("resync_size", "1")
    device.set_attribute("resync_size", "1")
    assert sense_of(scsi(TUR)) == (0x6, 0x2A, 0x09)
    assert scsi(TUR).status == 0  # reported once
    device.backend.close()


def test_io_threads_let_go_of_a_finished_command_at_once() -> None:
    """An idle I/O thread must not keep its last command's closure (and through it the
    backend of a device that went away, whose descriptor then never closes)."""
    io = IoThreads(1)

    class Held:
        pass

    held = Held()
    gone = threading.Event()
    weakref.finalize(held, gone.set)
    io.submit(None, None, lambda nowait, keep=held: NO_DATA)
    del held
    assert gone.wait(5), "the finished command's closure is still referenced"
    assert len(io.take_finished()) == 1
    io.stop()
