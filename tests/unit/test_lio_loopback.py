"""tcm_loop exports on the emulated kernel: nexus first, disks found through sysfs."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.lio import LoopbackExport, UserBackstore, create_user_backstore, random_naa
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio

WWN = "naa.5001405000000abc"


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    return tmp_path / "sys"


@pytest.fixture
def fs(sysfs: Path) -> EmulatedConfigfs:
    return emulated_lio(sysfs=sysfs)


@pytest.fixture
def disk(fs: EmulatedConfigfs) -> UserBackstore:
    return create_user_backstore("d0", 1, "vdisk_fileio", "d0", 1 << 20, configfs=fs)


def test_export_finds_the_disk_and_removal_cleans_up(fs: EmulatedConfigfs, sysfs: Path,
                                                     disk: UserBackstore) -> None:
    export = LoopbackExport(WWN, fs, sysfs=sysfs)
    export.create("naa.5001405000000def")
    assert export.nexus() == "naa.5001405000000def"
    export.link_lun(0, disk.path)
    export.add_lun(4, disk)
    assert export.scsi_address(4) == "0:0:1:4"
    assert export.find_disk(0) == Path("/dev/sda")
    assert export.wait_for_disk(4, timeout=1) == Path("/dev/sdb")
    assert export.find_disk(7) is None
    export.unlink_lun(0)
    assert export.find_disk(0) is None
    export.remove()
    assert fs.subdirs("target/loopback") == ["discovery_auth"]
    assert fs.kernel.disks == {} and fs.kernel.scsi_hosts == set()


def test_generated_nexus_has_the_targets_prefix(fs: EmulatedConfigfs, sysfs: Path) -> None:
    export = LoopbackExport(WWN, fs, sysfs=sysfs)
    export.create()
    assert export.initiator_wwn is not None and export.initiator_wwn.startswith("naa.5001405")
    assert export.nexus() == export.initiator_wwn
    assert random_naa() != random_naa()


def test_a_nexus_of_the_wrong_type_leaves_nothing(fs: EmulatedConfigfs, sysfs: Path) -> None:
    before = snapshot(fs)
    export = LoopbackExport(WWN, fs, sysfs=sysfs)
    with pytest.raises(OSError) as failure:
        export.create("iqn.1994-05.com.example:i")
    assert failure.value.errno == errno.EINVAL
    fc_export = LoopbackExport("fc.5001405000000abc", fs, sysfs=sysfs)
    with pytest.raises(OSError):
        fc_export.create()  # only naa. nexus names are generated
    assert snapshot(fs) == before


def test_a_nexus_the_kernel_refuses_undoes_the_target(fs: EmulatedConfigfs, sysfs: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(fs)
    export = LoopbackExport(WWN, fs, sysfs=sysfs)
    monkeypatch.setattr("tcmu_scst.testing.lio.loopback.PREFIXES", ("fc.",))
    with pytest.raises(OSError):
        export.create("naa.5001405000000def")
    assert snapshot(fs) == before


def test_luns_are_refused_without_a_nexus(fs: EmulatedConfigfs, sysfs: Path,
                                          disk: UserBackstore) -> None:
    """A LUN linked before the nexus would never be scanned and would pin the nexus."""
    export = LoopbackExport(WWN, fs, sysfs=sysfs)
    export.create()
    fs.write(export.tpg_path / "nexus", "NULL")
    mark = fs.mark()
    with pytest.raises(OSError) as failure:
        export.add_lun(0, disk)
    assert failure.value.errno == errno.EINVAL and "nexus" in str(failure.value)
    assert fs.log[mark:] == []


def test_names_without_a_protocol_prefix_are_refused(fs: EmulatedConfigfs) -> None:
    with pytest.raises(OSError):
        LoopbackExport("5001405000000abc", fs)
