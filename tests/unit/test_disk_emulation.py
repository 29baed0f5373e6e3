"""The minimal disk emulation, command by command, through the RingEmulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import vdisk_fileio, vdisk_nullio
from tcmu_scst.handlers.disk import BlockDevice, DiskSettings
from tcmu_scst.handlers.identity import crc32c, default_t10_dev_id, default_usn
from tests.unit.scsi_harness import Harness, sense_of

BLOCKS = 2048


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Harness]:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(BLOCKS * 512))
    harness = Harness(vdisk_fileio.open_device("disk01", str(image), DiskSettings()))
    yield harness
    harness.emulator.close()


def test_scst_identifiers_match_the_documented_example() -> None:
    assert crc32c(b"disk01\0") == 0x27CDDC71
    assert default_t10_dev_id("disk01") == "27cddc71-disk01"
    assert default_usn("disk01") == "27cddc71"
    assert default_usn("disk01", setup_id=5) == "527cddc71"


def test_standard_inquiry(disk: Harness) -> None:
    reply = disk(bytes([0x12, 0, 0, 0, 255, 0]), data_in_length=255)
    data = reply.data_in
    assert data is not None and len(data) == 96 and reply.residual == 255 - 96
    assert data[4] == 91
    assert data[58:64] == bytes([0x00, 0xA0, 0x04, 0x60, 0x04, 0xC0])  # SAM-5, SPC-4, SBC-3
    assert data[0] == 0x00 and data[2] == 0x06
    assert data[8:16] == b"SCST_FIO" and data[16:32] == b"disk01".ljust(16)


def test_inquiry_is_cut_to_the_allocation_length(disk: Harness) -> None:
    reply = disk(bytes([0x12, 0, 0, 0, 5, 0]), data_in_length=96)
    assert reply.data_in is not None and len(reply.data_in) == 5


def test_vpd_pages(disk: Harness) -> None:
    supported = disk(bytes([0x12, 1, 0x00, 0, 255, 0]), data_in_length=255).data_in
    assert supported is not None and list(supported[4:]) == [0x00, 0x80, 0x83, 0x86, 0xB0, 0xB1]
    serial = disk(bytes([0x12, 1, 0x80, 0, 255, 0]), data_in_length=255).data_in
    assert serial is not None and serial[4:] == b"27cddc71"
    ident = disk(bytes([0x12, 1, 0x83, 0, 255, 0]), data_in_length=255).data_in
    assert ident is not None and b"SCST_FIO27cddc71-disk01" in ident
    assert sense_of(disk(bytes([0x12, 1, 0x99, 0, 255, 0]), data_in_length=255)) == (5, 0x24, 0)


def test_block_limits_vpd_is_the_sbc3_length(disk: Harness) -> None:
    page = disk(bytes([0x12, 1, 0xB0, 0, 64, 0]), data_in_length=64).data_in
    assert page is not None and len(page) == 64 and page[3] == 0x3C
    assert int.from_bytes(page[8:12], "big") == (1 << 20) // 512  # maximum transfer length
    assert int.from_bytes(page[20:28], "big") == 0  # no UNMAP offered


def test_protection_information_is_refused(disk: Harness) -> None:
    for opcode in (0x28, 0x2A):
        cdb = bytes([opcode, 0x20, 0, 0, 0, 0, 0, 0, 1, 0])
        completion = disk(cdb, data_in_length=512) if opcode == 0x28 else disk(
            cdb, data_out=bytes(512))
        assert sense_of(completion) == (5, 0x24, 0)
        assert completion.sense[15:18] == bytes([0xCF, 0, 1])  # SKSV, C/D, bit 7 of byte 1


def test_read_capacity_10_and_16(disk: Harness) -> None:
    data = disk(bytes([0x25]) + bytes(9), data_in_length=8).data_in
    assert data == (BLOCKS - 1).to_bytes(4, "big") + (512).to_bytes(4, "big")
    cdb = bytes([0x9E, 0x10]) + bytes(8) + (32).to_bytes(4, "big") + bytes(2)
    data = disk(cdb, data_in_length=32).data_in
    assert data is not None and int.from_bytes(data[:8], "big") == BLOCKS - 1


def test_mode_sense_reports_write_cache_and_pages(disk: Harness) -> None:
    data = disk(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_length=255).data_in
    assert data is not None
    assert data[0] == len(data) - 1 and data[3] == 8  # header, one block descriptor
    caching = data[4 + 8 :].find(bytes([0x08, 0x12]))
    assert caching >= 0 and data[12 + caching + 2] & 0x04  # WCE
    data10 = disk(bytes([0x5A, 0x08, 0x0A, 0, 0, 0, 0, 0, 255, 0]), data_in_length=255).data_in
    assert data10 is not None and data10[8:10] == bytes([0x0A, 0x0A])
    assert sense_of(disk(bytes([0x1A, 0, 0xC8, 0, 255, 0]), data_in_length=255))[1] == 0x39


def test_write_then_read_round_trip(disk: Harness) -> None:
    payload = bytes(range(256)) * 16
    write = bytes([0x2A, 0, 0, 0, 0, 10, 0, 0, 8, 0])
    assert disk(write, data_out=payload).status == 0
    read = bytes([0x28, 0, 0, 0, 0, 10, 0, 0, 8, 0])
    assert disk(read, data_in_length=4096).data_in == payload
    read16 = bytes([0x88, 0]) + (10).to_bytes(8, "big") + (8).to_bytes(4, "big") + bytes(2)
    assert disk(read16, data_in_length=4096).data_in == payload


def test_out_of_range_and_unknown_opcodes(disk: Harness) -> None:
    read = bytes([0x28, 0, 0, 0, 0x07, 0xFF, 0, 0, 2, 0])  # LBA 2047 + 2 blocks
    assert sense_of(disk(read, data_in_length=1024)) == (5, 0x21, 0)
    assert sense_of(disk(bytes([0xC0]) + bytes(9))) == (5, 0x20, 0)


def test_write_to_read_only_disk_is_data_protect(tmp_path: Path) -> None:
    image = tmp_path / "ro.img"
    image.write_bytes(bytes(BLOCKS * 512))
    harness = Harness(vdisk_fileio.open_device("ro", str(image), DiskSettings(read_only=True)))
    write = bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    assert sense_of(harness(write, data_out=bytes(512))) == (7, 0x27, 0)
    mode = harness(bytes([0x1A, 0, 0x3F, 0, 255, 0]), data_in_length=255).data_in
    assert mode is not None and mode[2] & 0x80  # WP in the mode parameter header
    harness.emulator.close()


def test_null_disk_reads_zeros_and_swallows_writes() -> None:
    harness = Harness(vdisk_nullio.open_device("null", 1 << 30, DiskSettings(block_size=4096)))
    assert harness(bytes([0x2A, 0, 0, 0, 0, 1, 0, 0, 1, 0]), data_out=b"x" * 4096).status == 0
    assert harness(bytes([0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0]), data_in_length=4096).data_in == bytes(
        4096)
    capacity = harness(bytes([0x25]) + bytes(9), data_in_length=8).data_in
    assert capacity == ((1 << 30) // 4096 - 1).to_bytes(4, "big") + (4096).to_bytes(4, "big")
    assert isinstance(harness.device, BlockDevice)
    # WRITE AND VERIFY succeeds: there is nothing stored to compare the data with
    write_and_verify = bytes([0x2E, 0x02, 0, 0, 0, 1, 0, 0, 1, 0])
    assert harness(write_and_verify, data_out=b"x" * 4096).status == 0
    harness.emulator.close()


def test_synchronize_cache_and_test_unit_ready(disk: Harness) -> None:
    assert disk(bytes([0x35]) + bytes(9)).status == 0
    assert disk(bytes(6)).status == 0
    sense = disk(bytes([0x03, 0, 0, 0, 18, 0]), data_in_length=18).data_in
    assert sense is not None and sense[0] == 0x70 and sense[2] == 0


def cdb10(opcode: int, lba: int, blocks: int, byte1: int = 0) -> bytes:
    return bytes([opcode, byte1]) + lba.to_bytes(4, "big") + bytes([0]) + blocks.to_bytes(
        2, "big") + bytes([0])


def test_verify_compares_data_out_with_the_medium(disk: Harness) -> None:
    payload = bytes(range(256)) * 4  # two blocks
    assert disk(cdb10(0x2A, 100, 2), data_out=payload).status == 0
    assert disk(cdb10(0x2F, 100, 2, byte1=0x02), data_out=payload).status == 0  # BYTCHK=1
    changed = bytearray(payload)
    changed[700] ^= 0xFF
    miscompare = disk(cdb10(0x2F, 100, 2, byte1=0x02), data_out=bytes(changed))
    assert sense_of(miscompare) == (0xE, 0x1D, 0)
    assert miscompare.sense[0] & 0x80 and int.from_bytes(miscompare.sense[3:7], "big") == 700
    assert disk(cdb10(0x2F, 100, 2)).status == 0  # BYTCHK=0: the medium is readable
    assert sense_of(disk(cdb10(0x2F, 100, 2, byte1=0x04), data_out=payload)) == (5, 0x24, 0)
    assert sense_of(disk(cdb10(0x2F, BLOCKS - 1, 2))) == (5, 0x21, 0)


def test_verify_one_block_against_each(disk: Harness) -> None:
    block = b"\xa5" * 512
    assert disk(cdb10(0x2A, 10, 3), data_out=block * 3).status == 0
    assert disk(cdb10(0x2F, 10, 3, byte1=0x06), data_out=block).status == 0  # BYTCHK=3
    assert sense_of(disk(cdb10(0x2F, 9, 3, byte1=0x06), data_out=block))[0] == 0xE


def test_write_and_verify_stores_the_data(disk: Harness) -> None:
    payload = b"\x5a" * 1024
    assert disk(cdb10(0x2E, 7, 2), data_out=payload).status == 0
    assert disk(cdb10(0x28, 7, 2), data_in_length=1024).data_in == payload


def test_pre_fetch_checks_the_range(disk: Harness) -> None:
    assert disk(cdb10(0x34, 0, 8)).status == 0
    assert sense_of(disk(cdb10(0x34, BLOCKS, 1))) == (5, 0x21, 0)
