"""Creation parameters: SCST's defaults, rules and refusals, through the handler registry."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.handlers.disk import BlockDevice
from tcmu_scst.handlers.registry import UnknownHandlerError, declaration_of, open_scsi_device
from tests.unit.scsi_harness import Harness


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 20))
    return path


def refused(handler: str, params: dict[str, str], words: str, creation: bool = True) -> None:
    """Refused as add_device refuses (``creation``; otherwise as a worker given the
    recorded parameters would): by the declaration, or by the handler opening it."""
    declaration = declaration_of(handler)
    with pytest.raises(OSError) as caught:
        declaration.create("d1", declaration.parse(params, creation))
    assert caught.value.errno == errno.EINVAL
    assert words in str(caught.value)


def test_block_size_follows_scst(image: Path) -> None:
    for given, used in (("4096", 4096), ("0", 512), ("1536", 1024), ("512", 512)):
        device = open_scsi_device("vdisk_fileio", "d1", {"filename": str(image),
                                                         "blocksize": given})
        assert isinstance(device, BlockDevice) and device.block_size == used
    refused("vdisk_fileio", {"filename": str(image), "blocksize": "1"}, "512, 1024, 2048")
    refused("vdisk_fileio", {"filename": str(image), "blocksize": "12"}, "too small")
    refused("vdisk_fileio", {"filename": str(image), "blocksize": "4k"}, "not a number")


def test_fileio_needs_an_absolute_filename(image: Path) -> None:
    refused("vdisk_fileio", {}, "File name required")
    refused("vdisk_fileio", {"filename": "disk.img"}, "must be an absolute path")
    refused("vdisk_fileio", {"filename": str(image), "read_only": "1", "nv_cache": "1"},
            "read_only=1")


def test_flags_keep_only_their_lowest_bit(image: Path) -> None:
    device = open_scsi_device("vdisk_fileio", "d1", {"filename": str(image),
                                                     "read_only": "2", "rotational": "3"})
    assert isinstance(device, BlockDevice)
    assert not device.read_only and device.settings.rotational


def test_identity_parameters(image: Path) -> None:
    device = open_scsi_device("vdisk_fileio", "d1", {
        "filename": str(image), "t10_vend_id": "ACME", "prod_id": "Anvil", "usn": "42",
        "t10_dev_id": "anvil-1"})
    harness = Harness(device)
    try:
        data = harness(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
        assert data is not None and data[8:16] == b"ACME    " and data[16:21] == b"Anvil"
        serial = harness(bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_length=64).data_in
        assert serial is not None and serial[4:] == b"42"
    finally:
        harness.close()
    refused("vdisk_fileio", {"filename": str(image), "t10_vend_id": "TOO-LONG-VENDOR"},
            "longer than 8", creation=False)


def test_nullio_size_and_dummy() -> None:
    device = open_scsi_device("vdisk_nullio", "n1", {"size_mb": "64", "blocksize": "4096"})
    assert isinstance(device, BlockDevice) and device.blocks == (64 << 20) // 4096
    assert open_scsi_device("vdisk_nullio", "n2", {}).backend.size == 2748779069440
    refused("vdisk_nullio", {"size": "1000"}, "multiple of the block size")
    refused("vdisk_nullio", {"dummy": "2"}, "dummy=2")
    harness = Harness(open_scsi_device("vdisk_nullio", "n3", {"dummy": "1"}))
    try:
        data = harness(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
        assert data is not None and data[0] == 0x3F
    finally:
        harness.close()


def test_unknown_handler_names_the_known_ones() -> None:
    with pytest.raises(UnknownHandlerError, match="vdisk_fileio"):
        open_scsi_device("vdisk_magic", "x", {})
