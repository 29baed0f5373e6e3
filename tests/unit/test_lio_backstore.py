"""User (TCMU) backstores on the emulated kernel: creation, undo, removal, listing."""

from __future__ import annotations

import errno

import pytest

from tcmu_scst.lio import (
    ConfigfsError,
    IscsiTarget,
    UserBackstore,
    create_fileio_backstore,
    create_user_backstore,
    list_backstores,
    remove_user_backstore,
    unused_hba_index,
)
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


def test_create_writes_one_control_line_then_enables(fs: EmulatedConfigfs) -> None:
    mark = fs.mark()
    backstore = create_user_backstore("disk1", 3, "vdisk_fileio", "disk1", 1 << 20, 4096,
                                      configfs=fs, cmd_time_out=40,
                                      attributes={"qfull_time_out": "5"},
                                      wwn={"vpd_unit_serial": "abc", "product_id": "p"})
    assert backstore == UserBackstore(fs, 3, "disk1")
    assert [(entry.op, entry.path) for entry in fs.changes_since(mark)] == [
        ("mkdir", "target/core/user_3"),
        ("mkdir", "target/core/user_3/disk1"),
        ("write", "target/core/user_3/disk1/control"),
        ("write", "target/core/user_3/disk1/attrib/qfull_time_out"),
        ("write", "target/core/user_3/disk1/attrib/cmd_time_out"),
        ("write", "target/core/user_3/disk1/wwn/vpd_unit_serial"),
        ("write", "target/core/user_3/disk1/wwn/product_id"),
        ("write", "target/core/user_3/disk1/enable"),
    ]
    assert fs.log[mark + 2].value == ("dev_config=vdisk_fileio/disk1,dev_size=1048576,"
                                      "hw_block_size=4096,hw_max_sectors=2048,"
                                      "nl_reply_supported=-1")
    assert backstore.is_enabled() and not backstore.is_exported()
    assert backstore.get_attribute("hw_block_size") == "4096"
    assert backstore.get_attribute("cmd_time_out") == "40"
    assert backstore.serial() == "abc"
    assert fs.kernel.uio_names == ["tcm-user/3/disk1/vdisk_fileio/disk1"]
    assert str(backstore.path) == "/emulated-configfs/target/core/user_3/disk1"


def test_a_refused_step_leaves_nothing_behind(fs: EmulatedConfigfs) -> None:
    before = snapshot(fs)
    with pytest.raises(ConfigfsError) as failure:
        create_user_backstore("disk1", 3, "vdisk_fileio", "disk1", 1 << 20, configfs=fs,
                              attributes={"no_such_attribute": "1"})
    assert failure.value.errno == errno.ENOENT
    assert "no_such_attribute" in str(failure.value)
    assert snapshot(fs) == before
    assert fs.kernel.uio_names == []


def test_an_existing_hba_is_kept_when_undoing(fs: EmulatedConfigfs) -> None:
    first = create_user_backstore("a", 1, "vdisk_nullio", "a", 1 << 20, configfs=fs)
    with pytest.raises(ConfigfsError) as failure:
        create_user_backstore("a", 1, "vdisk_nullio", "a", 1 << 20, configfs=fs)
    assert failure.value.errno == errno.EEXIST
    assert first.exists()


@pytest.mark.parametrize("subtype, config", [("vdisk_fileio", "a,b"), ("vdisk_fileio", "a:b"),
                                             ("vdisk/fileio", "a"), ("", "a")])
def test_unsafe_config_strings_are_refused_before_any_change(fs: EmulatedConfigfs,
                                                             subtype: str, config: str) -> None:
    mark = fs.mark()
    with pytest.raises(OSError) as failure:
        create_user_backstore("d", 1, subtype, config, 1 << 20, configfs=fs)
    assert failure.value.errno == errno.EINVAL
    assert fs.log[mark:] == []


def test_remove_refuses_while_exported_then_removes_the_hba(fs: EmulatedConfigfs) -> None:
    backstore = create_user_backstore("disk1", 2, "vdisk_fileio", "disk1", 1 << 20,
                                      configfs=fs)
    target = IscsiTarget("iqn.2003-01.org.example:t", fs)
    target.create()
    target.add_lun(0, backstore)
    assert backstore.is_exported()
    with pytest.raises(ConfigfsError) as failure:
        remove_user_backstore(backstore)
    assert failure.value.errno == errno.EBUSY
    target.remove_lun(0)
    remove_user_backstore(backstore)
    assert fs.listdir("target/core") == ["alua"]


def test_remove_keeps_an_hba_that_holds_other_objects(fs: EmulatedConfigfs) -> None:
    first = create_user_backstore("a", 1, "vdisk_nullio", "a", 1 << 20, configfs=fs)
    create_user_backstore("b", 1, "vdisk_nullio", "b", 1 << 20, configfs=fs)
    remove_user_backstore(first)
    assert fs.subdirs("target/core/user_1") == ["b"]


def test_listing_and_free_hba_indexes(fs: EmulatedConfigfs) -> None:
    assert unused_hba_index(fs) == 0
    create_user_backstore("a", 0, "vdisk_nullio", "a", 1 << 20, configfs=fs)
    create_fileio_backstore("f", 1, "/tmp/f.img", 1 << 20, configfs=fs)
    create_user_backstore("c", 3, "vdisk_nullio", "c", 1 << 20, configfs=fs)
    assert unused_hba_index(fs) == 2
    assert unused_hba_index(fs, start=3) == 4
    assert [(store.plugin, store.hba, store.name) for store in list_backstores(fs)] == [
        ("fileio", 1, "f"), ("user", 0, "a"), ("user", 3, "c")]
    assert all(isinstance(store, UserBackstore) for store in list_backstores(fs, "user"))
