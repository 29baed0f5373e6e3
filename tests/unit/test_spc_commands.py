"""REPORT SUPPORTED OPERATION CODES, MODE SELECT, LOG SENSE and the medium commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import vdisk_fileio
from tcmu_scst.handlers.cdb_usage import USAGE
from tcmu_scst.handlers.disk import BlockDevice, DiskSettings
from tcmu_scst.handlers.service_actions import ServiceActionDispatcher
from tcmu_scst.handlers.spc_opcodes import supported_commands
from tests.unit.scsi_harness import Harness, sense_of

BLOCKS = 64


def be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def rsoc(options: int, opcode: int = 0, action: int = 0, rctd: bool = False,
         allocation: int = 8192) -> bytes:
    return bytes([0xA3, 0x0C, (0x80 if rctd else 0) | options, opcode]) + be(action, 2) + \
        be(allocation, 4) + bytes(2)


def open_disk(tmp_path: Path, **settings: object) -> Harness:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(BLOCKS * 512))
    return Harness(vdisk_fileio.open_device("disk", str(image), DiskSettings(**settings)))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Harness]:
    harness = open_disk(tmp_path)
    yield harness
    harness.close()


def test_every_executable_command_has_usage_data() -> None:
    for opcode, function in BlockDevice.commands.items():
        if isinstance(function, ServiceActionDispatcher):
            for action in function.service_actions:
                assert (opcode, action) in USAGE, f"{opcode:#x}/{action:#x}"
        else:
            assert (opcode, None) in USAGE, f"{opcode:#x}"


def test_report_all_commands(disk: Harness) -> None:
    data = disk(rsoc(0), data_in_length=8192).data_in
    assert data is not None
    length = int.from_bytes(data[:4], "big")
    descriptors = [data[4 + i : 12 + i] for i in range(0, length, 8)]
    listed = {(d[0], int.from_bytes(d[2:4], "big") if d[5] & 1 else None) for d in descriptors}
    assert (0x28, None) in listed and (0x9E, 0x10) in listed and (0x9E, 0x12) in listed
    assert (0xA0, None) in listed  # REPORT LUNS, answered by LIO
    assert (0x89, None) in listed and (0x42, None) in listed
    for descriptor in descriptors:
        assert int.from_bytes(descriptor[6:8], "big") in (6, 10, 12, 16)
    with_timeouts = disk(rsoc(0, rctd=True), data_in_length=8192).data_in
    assert with_timeouts is not None
    assert int.from_bytes(with_timeouts[:4], "big") == 20 * len(descriptors)
    assert with_timeouts[9] & 0x02  # CTDP


def test_report_one_command(disk: Harness) -> None:
    one = disk(rsoc(1, 0x28), data_in_length=64).data_in
    assert one is not None and one[1] & 0x07 == 0x03 and one[2:4] == be(10, 2)
    assert one[4:14] == USAGE[(0x28, None)]
    with_sa = disk(rsoc(2, 0x9E, 0x12, rctd=True), data_in_length=64).data_in
    assert with_sa is not None and with_sa[1] == 0x83 and with_sa[4] == 0x9E
    assert len(with_sa) == 4 + 16 + 12
    assert sense_of(disk(rsoc(1, 0x9E), data_in_length=64)) == (5, 0x24, 0)  # has SAs
    assert sense_of(disk(rsoc(2, 0x28), data_in_length=64)) == (5, 0x24, 0)  # has none
    unknown = disk(rsoc(1, 0xE7), data_in_length=64).data_in
    assert unknown == bytes([0, 0x01, 0, 0])
    assert sense_of(disk(rsoc(7), data_in_length=64)) == (5, 0x24, 0)


def test_supported_commands_follow_the_device_table(disk: Harness) -> None:
    listed = {opcode for opcode, _, _ in supported_commands(disk.device)}
    assert listed == set(disk.device.commands) | {0xA0}


def mode_select_10(pages: bytes, save: bool = False) -> tuple[bytes, bytes]:
    data = bytes(8) + pages
    cdb = bytes([0x55, 0x10 | (1 if save else 0), 0, 0, 0, 0, 0]) + be(len(data), 2) + bytes(1)
    return cdb, data


def caching_page(disk: Harness) -> bytes:
    cdb = bytes([0x5A, 0x08, 0x08, 0, 0, 0, 0]) + be(255, 2) + bytes(1)
    data = disk(cdb, data_in_length=255).data_in
    assert data is not None
    return data[8:28]


def test_mode_select_switches_write_cache(disk: Harness) -> None:
    page = bytearray(caching_page(disk))
    assert page[2] & 0x04  # write-back by default
    page[2] &= ~0x04
    cdb, data = mode_select_10(bytes(page))
    assert disk(cdb, data).status == 0
    assert not caching_page(disk)[2] & 0x04
    assert disk.device.write_through


def test_mode_select_refuses_what_cannot_change(disk: Harness) -> None:
    page = bytearray(caching_page(disk))
    page[3] = 0x55  # not changeable
    cdb, data = mode_select_10(bytes(page))
    reply = disk(cdb, data)
    assert sense_of(reply) == (5, 0x26, 0)
    assert reply.sense[15] & 0x80 and int.from_bytes(reply.sense[16:18], "big") == 8 + 3
    cdb, data = mode_select_10(bytes(caching_page(disk)), save=True)
    assert sense_of(disk(cdb, data)) == (5, 0x24, 0)
    cdb, data = mode_select_10(bytes([0x1C, 0x0A]) + bytes(10))  # a page we do not have
    assert sense_of(disk(cdb, data)) == (5, 0x26, 0)
    short = bytes([0x55, 0x10, 0, 0, 0, 0, 0, 0, 4, 0])
    assert sense_of(disk(short, bytes(4))) == (5, 0x1A, 0)


def test_log_sense_lists_pages(disk: Harness) -> None:
    cdb = bytes([0x4D, 0, 0x00, 0, 0, 0, 0]) + be(64, 2) + bytes(1)
    assert disk(cdb, data_in_length=64).data_in == bytes([0, 0, 0, 1, 0])
    bad = bytes([0x4D, 0, 0x0D, 0, 0, 0, 0]) + be(64, 2) + bytes(1)
    assert sense_of(disk(bad, data_in_length=64)) == (5, 0x24, 0)


def test_read_defect_data_is_empty(disk: Harness) -> None:
    ten = bytes([0x37, 0, 0x18 | 0x05, 0, 0, 0, 0]) + be(64, 2) + bytes(1)
    assert disk(ten, data_in_length=64).data_in == bytes([0, 0x1D, 0, 0])
    twelve = bytes([0xB7, 0x0D, 0, 0, 0, 0]) + be(64, 4) + bytes(2)
    assert disk(twelve, data_in_length=64).data_in == bytes([0, 0x0D]) + bytes(6)


def test_fixed_disk_ignores_eject(disk: Harness) -> None:
    assert disk(bytes([0x1B, 0, 0, 0, 0x02, 0])).status == 0
    assert disk(bytes([0x00] * 6)).status == 0
    assert sense_of(disk(bytes([0x1B, 0, 0, 0, 0x40, 0]))) == (5, 0x24, 0)  # power cond. 4


def test_removable_disk_ejects_unless_prevented(tmp_path: Path) -> None:
    disk = open_disk(tmp_path, removable=True)
    try:
        assert disk(bytes([0x1E, 0, 0, 0, 1, 0])).status == 0  # prevent
        assert sense_of(disk(bytes([0x1B, 0, 0, 0, 0x02, 0]))) == (5, 0x53, 0x02)
        assert disk(bytes([0x1E, 0, 0, 0, 0, 0])).status == 0  # allow
        assert disk(bytes([0x1B, 0, 0, 0, 0x02, 0])).status == 0  # eject
        assert sense_of(disk(bytes([0x00] * 6))) == (2, 0x3A, 0)
        read = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        assert sense_of(disk(read, data_in_length=512)) == (2, 0x3A, 0)
        assert disk(bytes([0x1B, 0, 0, 0, 0x03, 0])).status == 0  # load
        assert disk(read, data_in_length=512).status == 0
        assert sense_of(disk(bytes([0x1E, 0, 0, 0, 2, 0]))) == (5, 0x24, 0)
    finally:
        disk.close()


def test_extended_inquiry_and_characteristics(tmp_path: Path) -> None:
    disk = open_disk(tmp_path, rotational=False, write_through=True)
    try:
        b1 = disk(bytes([0x12, 1, 0xB1, 0, 64, 0]), data_in_length=64).data_in
        assert b1 is not None and b1[4:6] == be(1, 2)  # non-rotating
        x86 = disk(bytes([0x12, 1, 0x86, 0, 64, 0]), data_in_length=64).data_in
        assert x86 is not None and x86[5] == 0x01 and x86[6] & 0x01 == 0  # no volatile cache
    finally:
        disk.close()


def test_identity_and_size_change_at_run_time(disk: Harness, tmp_path: Path) -> None:
    disk.device.set_attribute("usn", "serial-9")
    disk.device.set_attribute("t10_vend_id", "ACME")
    serial = disk(bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_length=64).data_in
    assert serial is not None and serial[4:] == b"serial-9"
    standard = disk(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
    assert standard is not None and standard[8:16] == b"ACME    "
    with open(tmp_path / "disk.img", "ab") as image:
        image.write(bytes(64 * 512))
    disk.device.set_attribute("resync_size", "1")
    assert disk.device.blocks == 2 * BLOCKS
    with pytest.raises(OSError):
        disk.device.set_attribute("blocksize", "4096")
