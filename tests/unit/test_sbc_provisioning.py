"""UNMAP, WRITE SAME, GET LBA STATUS, COMPARE AND WRITE on a thin file, through the ring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import vdisk_fileio
from tcmu_scst.handlers.disk import DiskSettings
from tcmu_scst.handlers.sbc_provisioning import block_runs
from tests.unit.scsi_harness import Harness, sense_of

BLOCK = 4096
BLOCKS = 256


def be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def unmap_list(*ranges: tuple[int, int]) -> bytes:
    descriptors = b"".join(be(lba, 8) + be(blocks, 4) + bytes(4) for lba, blocks in ranges)
    return be(6 + len(descriptors), 2) + be(len(descriptors), 2) + bytes(4) + descriptors


def unmap_cdb(length: int, anchor: bool = False) -> bytes:
    return bytes([0x42, 1 if anchor else 0, 0, 0, 0, 0, 0]) + be(length, 2) + bytes(1)


def write_same_16(lba: int, blocks: int, unmap: bool = False, ndob: bool = False,
                  anchor: bool = False) -> bytes:
    flags = (0x08 if unmap else 0) | (0x01 if ndob else 0) | (0x10 if anchor else 0)
    return bytes([0x93, flags]) + be(lba, 8) + be(blocks, 4) + bytes(2)


def get_lba_status(lba: int, allocation: int = 4096) -> bytes:
    return bytes([0x9E, 0x12]) + be(lba, 8) + be(allocation, 4) + bytes(2)


def read16(lba: int, blocks: int) -> bytes:
    return bytes([0x88, 0]) + be(lba, 8) + be(blocks, 4) + bytes(2)


def lba_status(data: bytes) -> list[tuple[int, int, int]]:
    count = (int.from_bytes(data[:4], "big") - 4) // 16
    return [(int.from_bytes(data[8 + 16 * i : 16 + 16 * i], "big"),
             int.from_bytes(data[16 + 16 * i : 20 + 16 * i], "big"),
             data[20 + 16 * i] & 0x0F) for i in range(count)]


def allocated_blocks(path: Path) -> int:
    return os.stat(path).st_blocks


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "thin.img"
    path.write_bytes(b"\xAB" * (BLOCK * BLOCKS))  # fully allocated
    return path


@pytest.fixture
def thin(image: Path) -> Iterator[Harness]:
    settings = DiskSettings(block_size=BLOCK, thin_provisioned=True)
    harness = Harness(vdisk_fileio.open_device("thin", str(image), settings))
    yield harness
    harness.close()


@pytest.fixture
def thick(image: Path) -> Iterator[Harness]:
    harness = Harness(vdisk_fileio.open_device("thick", str(image),
                                               DiskSettings(block_size=BLOCK)))
    yield harness
    harness.close()


def test_thin_disk_advertises_provisioning(thin: Harness) -> None:
    pages = thin(bytes([0x12, 1, 0, 0, 255, 0]), data_in_length=255).data_in
    assert pages is not None and 0xB2 in pages[4:]
    b2 = thin(bytes([0x12, 1, 0xB2, 0, 8, 0]), data_in_length=8).data_in
    assert b2 is not None and b2[5] == 0xE4 and b2[7] & 0x07 == 0x02  # LBPU/WS/WS10/RZ, thin
    b0 = thin(bytes([0x12, 1, 0xB0, 0, 64, 0]), data_in_length=64).data_in
    assert b0 is not None
    assert b0[4] & 0x01 and b0[5] == 1  # WSNZ, one block per COMPARE AND WRITE
    assert int.from_bytes(b0[20:24], "big") > 0 and int.from_bytes(b0[24:28], "big") == 256
    assert b0[32] & 0x80  # UGAVALID
    rc16 = thin(bytes([0x9E, 0x10]) + bytes(8) + be(32, 4) + bytes(2), data_in_length=32).data_in
    assert rc16 is not None and rc16[14] & 0xC0 == 0xC0  # LBPME, LBPRZ


def test_thick_disk_refuses_unmap_and_hides_b2(thick: Harness) -> None:
    pages = thick(bytes([0x12, 1, 0, 0, 255, 0]), data_in_length=255).data_in
    assert pages is not None and 0xB2 not in pages[4:]
    assert sense_of(thick(bytes([0x12, 1, 0xB2, 0, 8, 0]), data_in_length=8)) == (5, 0x24, 0)
    assert sense_of(thick(unmap_cdb(24), unmap_list((0, 1)))) == (5, 0x20, 0)
    # WRITE SAME with UNMAP: refused where LBPWS is not offered; plain WRITE SAME works
    assert sense_of(thick(write_same_16(0, 1, unmap=True), bytes(BLOCK))) == (5, 0x24, 0)
    assert thick(write_same_16(0, 1), bytes(BLOCK)).status == 0


def test_unmap_punches_holes_that_read_as_zeros(thin: Harness, image: Path) -> None:
    before = allocated_blocks(image)
    reply = thin(unmap_cdb(40), unmap_list((8, 16), (100, 4)))
    assert reply.status == 0
    assert allocated_blocks(image) < before
    data = thin(read16(8, 16), data_in_length=16 * BLOCK).data_in
    assert data == bytes(16 * BLOCK)
    neighbour = thin(read16(7, 1), data_in_length=BLOCK).data_in
    assert neighbour == b"\xAB" * BLOCK
    status = lba_status(thin(get_lba_status(0), data_in_length=4096).data_in or b"")
    assert status[:4] == [(0, 8, 0), (8, 16, 1), (24, 76, 0), (100, 4, 1)]


def test_unmap_bad_parameter_lists(thin: Harness) -> None:
    assert sense_of(thin(unmap_cdb(24, anchor=True), unmap_list((0, 1)))) == (5, 0x24, 0)
    assert sense_of(thin(unmap_cdb(6), bytes(6))) == (5, 0x1A, 0)  # shorter than the header
    assert sense_of(thin(unmap_cdb(24), unmap_list((BLOCKS - 1, 2)))) == (5, 0x21, 0)
    too_many = unmap_list(*[(i, 1) for i in range(257)])
    assert sense_of(thin(unmap_cdb(len(too_many)), too_many)) == (5, 0x26, 0)
    assert thin(unmap_cdb(0)).status == 0  # an empty list is no work, not an error


def test_write_same_writes_the_pattern(thin: Harness) -> None:
    pattern = bytes(range(256)) * (BLOCK // 256)
    assert thin(write_same_16(10, 5), pattern).status == 0
    data = thin(read16(10, 5), data_in_length=5 * BLOCK).data_in
    assert data == pattern * 5
    ws10 = bytes([0x41, 0]) + be(20, 4) + bytes(1) + be(2, 2) + bytes(1)
    assert thin(ws10, b"\x11" * BLOCK).status == 0
    assert thin(read16(20, 2), data_in_length=2 * BLOCK).data_in == b"\x11" * 2 * BLOCK


def test_write_same_unmap_releases_only_zero_patterns(thin: Harness, image: Path) -> None:
    before = allocated_blocks(image)
    assert thin(write_same_16(0, 32, unmap=True), b"\x01" * BLOCK).status == 0
    assert allocated_blocks(image) == before  # a non-zero pattern must be written
    assert thin(write_same_16(0, 32, unmap=True), bytes(BLOCK)).status == 0
    assert allocated_blocks(image) < before
    assert thin(read16(0, 32), data_in_length=32 * BLOCK).data_in == bytes(32 * BLOCK)
    assert thin(write_same_16(64, 8, unmap=True, ndob=True)).status == 0  # no Data-Out
    assert lba_status(thin(get_lba_status(64), data_in_length=4096).data_in or b"")[0] == (64, 8, 1)


def test_write_same_bad_cdbs(thin: Harness) -> None:
    block = bytes(BLOCK)
    assert sense_of(thin(write_same_16(0, 0), block)) == (5, 0x24, 0)  # WSNZ
    assert sense_of(thin(write_same_16(0, 1, anchor=True), block)) == (5, 0x24, 0)
    assert sense_of(thin(write_same_16(BLOCKS, 1), block)) == (5, 0x21, 0)
    wrprotect = bytes([0x93, 0x20]) + be(0, 8) + be(1, 4) + bytes(2)
    assert sense_of(thin(wrprotect, block)) == (5, 0x24, 0)
    assert sense_of(thin(write_same_16(0, 1), bytes(100))) == (5, 0x24, 0)  # short Data-Out
    # more than the one block to repeat: refused, nothing written (libiscsi's
    # WriteSame*.InvalidDataOutSize, run when a disk reports several blocks per physical one)
    before = thin(read16(0, 2), data_in_length=2 * BLOCK).data_in
    assert sense_of(thin(write_same_16(0, 2), b"\xA6" * (2 * BLOCK))) == (5, 0x24, 0)
    assert thin(read16(0, 2), data_in_length=2 * BLOCK).data_in == before


def test_get_lba_status_range_and_short_allocation(thin: Harness) -> None:
    assert sense_of(thin(get_lba_status(BLOCKS), data_in_length=64)) == (5, 0x21, 0)
    short = thin(get_lba_status(0, allocation=12), data_in_length=12)
    assert short.status == 0 and short.data_in is not None and len(short.data_in) == 12
    full = lba_status(thin(get_lba_status(0), data_in_length=4096).data_in or b"")
    assert full == [(0, BLOCKS, 0)]


def test_block_runs_round_holes_inwards() -> None:
    extents = [(0, 1000, True), (1000, 9240, False), (10240, 2048, True)]
    assert block_runs(extents, 1024, 0) == [(0, 1, True), (1, 9, False), (10, 2, True)]
    assert block_runs([(0, 500, False)], 1024, 0) == []


def compare_and_write(lba: int, blocks: int = 1) -> bytes:
    return bytes([0x89, 0]) + be(lba, 8) + bytes(3) + bytes([blocks, 0, 0])


def test_compare_and_write(thin: Harness) -> None:
    old, new = b"\xAB" * BLOCK, b"\xCD" * BLOCK
    assert thin(compare_and_write(3), old + new).status == 0
    assert thin(read16(3, 1), data_in_length=BLOCK).data_in == new
    wrong = bytearray(new)
    wrong[100] ^= 0xFF
    reply = thin(compare_and_write(3), bytes(wrong) + old)
    assert sense_of(reply) == (0x0E, 0x1D, 0)
    assert reply.sense[0] & 0x80 and int.from_bytes(reply.sense[3:7], "big") == 100
    assert thin(read16(3, 1), data_in_length=BLOCK).data_in == new  # nothing written
    assert sense_of(thin(compare_and_write(3, blocks=2), bytes(4 * BLOCK))) == (5, 0x24, 0)
    assert sense_of(thin(compare_and_write(BLOCKS), old + new)) == (5, 0x21, 0)
    assert sense_of(thin(compare_and_write(3), new)) == (5, 0x24, 0)  # half the data
    # twice the data (libiscsi's CompareAndWrite.InvalidDataOutSize): which half is which
    # is unknown, so nothing is compared or written
    assert sense_of(thin(compare_and_write(3), new + old + old + old)) == (5, 0x24, 0)
    assert thin(read16(3, 1), data_in_length=BLOCK).data_in == new
    assert thin(compare_and_write(3, blocks=0)).status == 0
    # 256 blocks wrap to zero in the one-byte field: data with no blocks is refused
    assert sense_of(thin(compare_and_write(3, blocks=0), bytes(2 * BLOCK))) == (5, 0x24, 0)


def test_no_lbprz_where_released_blocks_may_not_read_zeros(thin: Harness, image: Path) -> None:
    thin.device.backend.deallocate_zeroes = False  # as a discard on a real disk
    b2 = thin(bytes([0x12, 1, 0xB2, 0, 8, 0]), data_in_length=8).data_in
    assert b2 is not None and b2[5] == 0xE0
    rc16 = thin(bytes([0x9E, 0x10]) + bytes(8) + be(32, 4) + bytes(2), data_in_length=32).data_in
    assert rc16 is not None and rc16[14] & 0xC0 == 0x80
    before = allocated_blocks(image)
    assert thin(write_same_16(0, 32, unmap=True), bytes(BLOCK)).status == 0
    assert allocated_blocks(image) == before  # zeros written, not released
    assert thin(read16(0, 32), data_in_length=32 * BLOCK).data_in == bytes(32 * BLOCK)


def test_unmap_limit_follows_the_backend_within_bounds(thin: Harness) -> None:
    def max_unmap() -> int:
        page = thin(bytes([0x12, 1, 0xB0, 0, 64, 0]), data_in_length=64).data_in
        assert page is not None
        return int.from_bytes(page[20:24], "big")

    assert max_unmap() == 0xFFFFFFFF  # a file: punching holes has no size limit
    thin.device.backend.max_deallocate_bytes = 64 * BLOCK
    assert max_unmap() == 64
    thin.device.backend.max_deallocate_bytes = 1 << 40  # a device that discards anything
    assert max_unmap() == 1 << 20
