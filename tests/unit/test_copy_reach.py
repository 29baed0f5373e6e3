"""EXTENDED COPY between devices of different workers, through the daemon's reach directory
(handlers/copy_reach): the worker of the device a copy is sent to opens the other device
itself, only if the copy manager has it, and only for initiators SCST would let copy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import spc_copy, vdisk_fileio
from tcmu_scst.handlers.copy_reach import DESIGNATORS, ReachEntry, ReachWriter
from tcmu_scst.handlers.disk import DiskSettings
from tcmu_scst.handlers.registry import device_identity, open_disk
from tests.unit.scsi_harness import Harness, sense_of
from tests.unit.test_extended_copy import (
    BLOCKS,
    parameter_list,
    read10,
    segment,
    target_descriptor,
    xcopy,
)

UNREACHABLE = (0x0A, 0x0D, 0x02)  # COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE
PATTERN = bytes(range(256)) * (BLOCKS * 2)


class Setup:
    """``src`` served here (the harness, as its worker would); ``dst`` only described in
    the reach directory, as the daemon describes a device another worker serves."""

    def __init__(self, tmp_path: Path):
        self.directory = tmp_path / "reach"
        self.writer = ReachWriter(self.directory)
        self.writer.reset()
        self.source_image, self.destination_image = tmp_path / "src.img", tmp_path / "dst.img"
        self.source_image.write_bytes(PATTERN)
        self.destination_image.write_bytes(bytes(BLOCKS * 512))
        self.source = Harness(vdisk_fileio.open_device("src", str(self.source_image),
                                                       DiskSettings()))
        self.describe("src", self.source_image)
        self.describe("dst", self.destination_image)
        spc_copy.configure_reach(str(self.directory), open_disk)

    def describe(self, name: str, image: Path, copy_manager: bool = True,
                 initiators: frozenset[str] | None = None, **params: str) -> None:
        every = {"filename": str(image), **params}
        self.writer.write(ReachEntry(name, "vdisk_fileio", every, copy_manager, initiators),
                          device_identity("vdisk_fileio", name, every).designators().items())

    def copy(self, destination_params: dict[str, str] | None = None) -> tuple[int, int, int]:
        """Copy 16 blocks from src LBA 8 to dst LBA 100; the sense (0, 0, 0 when good)."""
        params = {"filename": str(self.destination_image), **(destination_params or {})}
        identity = device_identity("vdisk_fileio", "dst", params)
        destination = bytearray(target_descriptor(self.source))
        designator = identity.eui64()
        destination[8 : 8 + len(designator)] = designator
        data = parameter_list([target_descriptor(self.source), bytes(destination)],
                              [segment(0, 1, 16, 8, 100)])
        completion = self.source(xcopy(len(data)), data)
        return (0, 0, 0) if completion.status == 0 else sense_of(completion)

    def copied(self) -> bool:
        return self.destination_image.read_bytes()[100 * 512 : 116 * 512] == \
            PATTERN[8 * 512 : 24 * 512]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    spc_copy._held.clear()
    made = Setup(tmp_path)
    yield made
    spc_copy.configure_reach(None)
    made.source.close()


def test_a_copy_reaches_a_device_another_worker_serves(setup: Setup) -> None:
    assert setup.copy() == (0, 0, 0)
    assert setup.copied()
    # and the copy is what the source reads back there
    data = setup.source(read10(8, 16), data_in_length=16 * 512).data_in
    assert data == setup.destination_image.read_bytes()[100 * 512 : 116 * 512]


def test_a_device_without_a_copy_manager_lun_is_out_of_reach(setup: Setup) -> None:
    setup.describe("dst", setup.destination_image, copy_manager=False)
    assert setup.copy() == UNREACHABLE and not setup.copied()


def test_a_device_the_daemon_never_described_is_out_of_reach(setup: Setup) -> None:
    setup.writer.remove("dst")
    assert setup.copy() == UNREACHABLE and not setup.copied()


def test_scst_access_rule_for_every_initiator_of_the_receiving_device(setup: Setup) -> None:
    """src is in a target's own LUN set (anyone reaches it); dst only through a group."""
    setup.describe("dst", setup.destination_image, initiators=frozenset({"iqn.a"}))
    assert setup.copy() == UNREACHABLE and not setup.copied()
    setup.writer.set_allow_not_connected(True)
    assert setup.copy() == (0, 0, 0) and setup.copied()


def test_copies_between_group_devices(setup: Setup) -> None:
    setup.describe("src", setup.source_image, initiators=frozenset({"iqn.a", "iqn.c"}))
    setup.describe("dst", setup.destination_image, initiators=frozenset({"iqn.a", "iqn.b"}))
    assert setup.copy() == UNREACHABLE  # iqn.c may send to src but does not reach dst
    setup.describe("src", setup.source_image, initiators=frozenset({"iqn.a"}))
    assert setup.copy() == (0, 0, 0) and setup.copied()


def test_an_unexported_receiving_device_reaches_nothing(setup: Setup) -> None:
    setup.describe("src", setup.source_image, initiators=frozenset())
    setup.describe("dst", setup.destination_image, initiators=frozenset({"iqn.a"}))
    assert setup.copy() == (0, 0, 0)  # nobody sends to src: the empty set is everyone's
    setup.writer.remove("src")  # but a device that is not described is never trusted
    assert setup.copy() == UNREACHABLE


def test_a_new_identity_moves_the_designator(setup: Setup) -> None:
    setup.describe("dst", setup.destination_image, t10_dev_id="renamed-0001")
    assert setup.copy() == UNREACHABLE  # the old designator names nothing now
    assert setup.copy({"t10_dev_id": "renamed-0001"}) == (0, 0, 0) and setup.copied()


def test_a_read_only_destination_is_write_protected(setup: Setup) -> None:
    setup.describe("dst", setup.destination_image, read_only="1")
    assert setup.copy({"read_only": "1"}) == (0x07, 0x27, 0x00)
    assert not setup.copied()


def test_a_designator_two_devices_share_names_neither(setup: Setup, tmp_path: Path) -> None:
    other = tmp_path / "other.img"
    other.write_bytes(bytes(BLOCKS * 512))
    dst_eui = device_identity("vdisk_fileio", "dst", {}).eui64()
    # a t10_dev_id with the same first eight characters gives the same EUI-64 designator
    setup.describe("twin", other, t10_dev_id=dst_eui.decode() + "-twin")
    assert setup.copy() == UNREACHABLE
    links = {path.name for path in (setup.directory / DESIGNATORS).iterdir()}
    assert f"2.{dst_eui.hex()}" not in links
    setup.writer.remove("twin")
    assert setup.copy() == (0, 0, 0) and setup.copied()


def open_descriptors(path: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path))


def test_the_other_device_is_open_for_the_copy_only(setup: Setup) -> None:
    """Opened afresh by each copy and closed after it: a device made again under the same
    name and file name (a new file) gets the next copy, never an old descriptor."""
    assert setup.copy() == (0, 0, 0) and setup.copied()
    assert open_descriptors(setup.destination_image) == 0
    setup.destination_image.unlink()
    setup.destination_image.write_bytes(bytes(BLOCKS * 512))
    assert not setup.copied()
    assert setup.copy() == (0, 0, 0) and setup.copied()
    assert open_descriptors(setup.destination_image) == 0
