"""EXTENDED COPY between two of our disks and RECEIVE COPY RESULTS, through the ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import spc_copy, vdisk_fileio
from tcmu_scst.handlers.disk import DiskSettings
from tests.unit.scsi_harness import Harness, sense_of

BLOCKS = 128


def be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def target_descriptor(harness: Harness, kind: int = 0xE4) -> bytes:
    """An identification descriptor naming ``harness``'s disk by its EUI-64 designator."""
    page = harness(bytes([0x12, 1, 0x83, 0, 255, 0]), data_in_length=255).data_in
    assert page is not None
    position = 4
    while page[position + 1] & 0x0F != 0x2:  # find the EUI-64 designator
        position += 4 + page[position + 3]
    designator = page[position : position + 4 + page[position + 3]]
    descriptor = bytearray(32)
    descriptor[0] = kind
    descriptor[4 : 4 + len(designator)] = designator
    descriptor[29:32] = be(512, 3)
    return bytes(descriptor)


def segment(source: int, destination: int, blocks: int, source_lba: int,
            destination_lba: int, kind: int = 0x02) -> bytes:
    return bytes([kind, 0]) + be(0x18, 2) + be(source, 2) + be(destination, 2) + bytes(2) + \
        be(blocks, 2) + be(source_lba, 8) + be(destination_lba, 8)


def parameter_list(targets: list[bytes], segments: list[bytes], list_id: int = 1,
                   inline: int = 0) -> bytes:
    target_bytes, segment_bytes = b"".join(targets), b"".join(segments)
    header = bytes([list_id, 0]) + be(len(target_bytes), 2) + bytes(4) + \
        be(len(segment_bytes), 4) + be(inline, 4)
    return header + target_bytes + segment_bytes


def xcopy(length: int) -> bytes:
    return bytes([0x83, 0x00]) + bytes(8) + be(length, 4) + bytes(2)


def receive_copy_results(action: int, list_id: int = 0) -> bytes:
    return bytes([0x84, action, list_id]) + bytes(7) + be(1024, 4) + bytes(2)


def read10(lba: int, blocks: int) -> bytes:
    return bytes([0x28, 0]) + be(lba, 4) + bytes(1) + be(blocks, 2) + bytes(1)


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[tuple[Harness, Harness]]:
    source_image, destination_image = tmp_path / "src.img", tmp_path / "dst.img"
    source_image.write_bytes(bytes(range(256)) * (BLOCKS * 2))
    destination_image.write_bytes(bytes(BLOCKS * 512))
    source = Harness(vdisk_fileio.open_device("xsrc", str(source_image), DiskSettings()))
    destination = Harness(vdisk_fileio.open_device("xdst", str(destination_image),
                                                   DiskSettings()))
    spc_copy._held.clear()
    yield source, destination
    source.close()
    destination.close()


def test_copy_between_two_disks(disks: tuple[Harness, Harness]) -> None:
    source, destination = disks
    data = parameter_list([target_descriptor(source), target_descriptor(destination)],
                          [segment(0, 1, 16, 8, 100)])
    assert source(xcopy(len(data)), data).status == 0
    copied = destination(read10(100, 16), data_in_length=16 * 512).data_in
    expected = source(read10(8, 16), data_in_length=16 * 512).data_in
    assert copied == expected and copied != bytes(16 * 512)
    status = source(receive_copy_results(0x00, 1), data_in_length=1024).data_in
    assert status is not None and status[4] == 0x01 and status[5:7] == be(1, 2)
    assert status[8:12] == be(16 * 512, 4)
    # reported once: the held status is gone afterwards
    assert sense_of(source(receive_copy_results(0x00, 1), data_in_length=1024)) == (5, 0x24, 0)


def test_operating_parameters(disks: tuple[Harness, Harness]) -> None:
    source, _ = disks
    data = source(receive_copy_results(0x03), data_in_length=1024).data_in
    assert data is not None and data[4] & 0x01
    assert data[8:10] == be(spc_copy.MAX_TARGET_DESCRIPTORS, 2)
    assert data[10:12] == be(spc_copy.MAX_SEGMENT_DESCRIPTORS, 2)
    assert data[43] == 2 and set(data[44:46]) == {0x02, 0xE4}


def test_parameter_list_errors(disks: tuple[Harness, Harness]) -> None:
    source, _ = disks
    data = parameter_list([target_descriptor(source)], [segment(0, 0, 8, 0, 64)])
    assert source(xcopy(0)).status == 0
    assert sense_of(source(xcopy(16 + 31), data[: 16 + 31])) == (5, 0x1A, 0)
    assert sense_of(source(xcopy(len(data) - 1), data[:-1])) == (5, 0x1A, 0)
    inline = parameter_list([target_descriptor(source)], [segment(0, 0, 8, 0, 64)], inline=4)
    assert sense_of(source(xcopy(len(inline)), inline)) == (5, 0x26, 0)


def test_descriptor_types_and_limits(disks: tuple[Harness, Harness]) -> None:
    source, _ = disks
    fc = parameter_list([target_descriptor(source, kind=0xE0)], [segment(0, 0, 8, 0, 64)])
    assert sense_of(source(xcopy(len(fc)), fc)) == (5, 0x26, 0x07)
    stream = parameter_list([target_descriptor(source)], [segment(0, 0, 8, 0, 64, kind=0x03)])
    assert sense_of(source(xcopy(len(stream)), stream)) == (5, 0x26, 0x09)
    many = parameter_list([target_descriptor(source)] * 5, [segment(0, 0, 8, 0, 64)])
    assert sense_of(source(xcopy(len(many)), many)) == (5, 0x26, 0x06)
    segments = parameter_list([target_descriptor(source)], [segment(0, 0, 1, 0, 64)] * 17)
    assert sense_of(source(xcopy(len(segments)), segments)) == (5, 0x26, 0x08)
    oversized = parameter_list([target_descriptor(source)] * 5, [segment(0, 0, 1, 0, 64)] * 17)
    assert sense_of(source(xcopy(len(oversized)), oversized)) == (5, 0x1A, 0)


def test_copy_aborted_cases(disks: tuple[Harness, Harness]) -> None:
    source, _ = disks
    bad_index = parameter_list([target_descriptor(source)], [segment(0, 1, 8, 0, 64)])
    assert sense_of(source(xcopy(len(bad_index)), bad_index)) == (0x0A, 0x0D, 0x02)
    beyond = parameter_list([target_descriptor(source)], [segment(0, 0, 8, 0, BLOCKS - 1)])
    assert sense_of(source(xcopy(len(beyond)), beyond)) == (0x0A, 0, 0)
    unknown = bytearray(target_descriptor(source))
    unknown[8:16] = b"nobodyy!"
    unreachable = parameter_list([bytes(unknown)], [segment(0, 0, 8, 0, 64)])
    assert sense_of(source(xcopy(len(unreachable)), unreachable)) == (0x0A, 0x0D, 0x02)
    status = source(receive_copy_results(0x00, 1), data_in_length=1024).data_in
    assert status is not None and status[4] == 0x02  # completed with error
