"""Finding TCMU devices among UIO devices and reading their mailbox."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tcmu_scst.uio.discovery import (
    NotTcmuDeviceError,
    TcmuName,
    find_tcmu_device,
    list_tcmu_devices,
)
from tcmu_scst.uio.mailbox import MailboxSnapshot


def fake_uio(sysfs: Path, index: int, name: str, size: str = "0x0000000040800000") -> None:
    device = sysfs / f"uio{index}"
    (device / "maps" / "map0").mkdir(parents=True)
    (device / "name").write_text(name + "\n")
    (device / "maps" / "map0" / "size").write_text(size + "\n")


def test_tcmu_names_split_into_hba_object_subtype_and_config() -> None:
    name = TcmuName.parse("tcm-user/3/disk1/vdisk_fileio//srv/disk1.img")
    assert name == TcmuName(hba=3, object_name="disk1", subtype="vdisk_fileio",
                            config="/srv/disk1.img")
    assert TcmuName.parse("tcm-user/0/bare") == TcmuName(0, "bare", "", "")
    for bad in ("uio_pci_generic", "tcm-user/x/disk", "tcm-user/1"):
        with pytest.raises(NotTcmuDeviceError):
            TcmuName.parse(bad)


def test_only_tcmu_devices_are_listed_in_index_order(tmp_path: Path) -> None:
    fake_uio(tmp_path, 10, "tcm-user/1/b/vdisk_nullio/b")
    fake_uio(tmp_path, 2, "tcm-user/1/a/vdisk_fileio//a.img")
    fake_uio(tmp_path, 0, "uio_pci_generic")
    (tmp_path / "not-a-uio").mkdir()
    devices = list_tcmu_devices(tmp_path)
    assert [device.index for device in devices] == [2, 10]
    assert devices[0].node == Path("/dev/uio2")
    assert devices[0].map_size() == 0x40800000


def test_device_is_found_by_backstore(tmp_path: Path) -> None:
    fake_uio(tmp_path, 4, "tcm-user/5/disk1/vdisk_fileio//d")
    assert find_tcmu_device(5, "disk1", tmp_path).index == 4
    with pytest.raises(FileNotFoundError, match="user_5/disk2"):
        find_tcmu_device(5, "disk2", tmp_path)
    assert list_tcmu_devices(tmp_path / "absent") == []


def test_mailbox_fields_at_kernel_offsets() -> None:
    raw = bytearray(128)
    struct.pack_into("=HHIII", raw, 0, 2, 0xF, 128, 8 * 1024 * 1024 - 128, 4096)
    struct.pack_into("=I", raw, 64, 2048)
    mailbox = MailboxSnapshot.read(raw)
    assert (mailbox.version, mailbox.flags, mailbox.cmdr_off) == (2, 0xF, 128)
    assert (mailbox.cmd_head, mailbox.cmd_tail) == (4096, 2048)
    assert mailbox.data_off == 8 * 1024 * 1024
