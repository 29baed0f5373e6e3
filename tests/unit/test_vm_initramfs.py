"""The initramfs writer produces archives the real cpio tool and the kernel accept."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tcmu_scst.vm import initramfs
from tcmu_scst.vm.initramfs import CpioArchive, guest_script, module_list_text


def parse_newc(data: bytes) -> dict[str, tuple[int, bytes, int, int]]:
    """Independent reader of the newc format: name -> (mode, data, rdev major, rdev minor)."""
    entries = {}
    offset = 0
    while True:
        assert data[offset : offset + 6] == b"070701", f"bad magic at {offset}"
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmajor, rminor, name_size = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_start = offset + 110
        name = data[name_start : name_start + name_size - 1].decode()
        assert data[name_start + name_size - 1] == 0
        data_start = (name_start + name_size + 3) & ~3
        if name == "TRAILER!!!":
            assert data_start + size == len(data)
            return entries
        entries[name] = (mode, data[data_start : data_start + size], rmajor, rminor)
        offset = (data_start + size + 3) & ~3


def sample_archive() -> bytes:
    archive = CpioArchive()
    archive.directory("bin")
    archive.file("bin/tool", b"#!/bin/sh\necho hi\n", 0o755)
    archive.file("etc/odd", b"12345")  # length not a multiple of four
    archive.symlink("bin/sh", "tool")
    archive.char_device("dev/console", 5, 1)
    return archive.finish()


def test_entries_round_trip_through_an_independent_reader() -> None:
    entries = parse_newc(sample_archive())
    assert set(entries) == {"bin", "bin/tool", "etc/odd", "bin/sh", "dev/console"}
    mode, data, _, _ = entries["bin/tool"]
    assert stat.S_ISREG(mode) and stat.S_IMODE(mode) == 0o755 and data == b"#!/bin/sh\necho hi\n"
    assert entries["etc/odd"][1] == b"12345"
    assert stat.S_ISDIR(entries["bin"][0])
    assert stat.S_ISLNK(entries["bin/sh"][0]) and entries["bin/sh"][1] == b"tool"
    mode, _, major, minor = entries["dev/console"]
    assert stat.S_ISCHR(mode) and (major, minor) == (5, 1)


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio tool not installed")
def test_gnu_cpio_lists_the_archive(tmp_path: Path) -> None:
    listing = subprocess.run(["cpio", "-it", "--quiet"], input=sample_archive(),
                             capture_output=True, check=True).stdout.decode().split()
    assert listing == ["bin", "bin/tool", "etc/odd", "bin/sh", "dev/console"]


def test_module_list_carries_parameters() -> None:
    text = module_list_text(["configfs", "scsi_debug"])
    assert text == "configfs\nscsi_debug add_host=0\n"


def test_guest_scripts_are_packaged() -> None:
    assert "switch_root" in guest_script("init.sh")
    assert "job.sh" in guest_script("stage2.sh")


def test_other_checkouts_images_survive_until_unused_for_a_day(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(initramfs, "build_initramfs", lambda kernel, modules: b"image")
    monkeypatch.setattr(initramfs, "initramfs_key", lambda kernel, modules: "new")

    class FakeKernel:
        release = "6.1.0-test"

    recent = tmp_path / "initramfs-6.1.0-test-other.cpio"
    recent.write_bytes(b"in use elsewhere")
    old = tmp_path / "initramfs-6.1.0-test-old.cpio"
    old.write_bytes(b"forgotten")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    path = initramfs.ensure_initramfs(FakeKernel(), tmp_path)  # type: ignore[arg-type]
    assert path.read_bytes() == b"image"
    assert recent.exists() and not old.exists()
