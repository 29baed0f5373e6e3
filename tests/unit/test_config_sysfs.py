"""The file-system client of SCST trees, on our tree mounted with the kernel's FUSE."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.config.sysfs import AttributeValue, MgmtHelp, ScstSysfs, SysfsError

from .scst_mount import MountedScst

IQN = "iqn.2006-10.net.vlnb:tgt"



def test_attribute_value_parsing() -> None:
    assert AttributeValue.parse("4096\n[key]\n") == AttributeValue("4096", True)
    assert AttributeValue.parse("/a/b\n[key]\n\n") == AttributeValue("/a/b", True)
    assert AttributeValue.parse("512\n") == AttributeValue("512", False)
    assert AttributeValue.parse("") == AttributeValue("", False)


def test_help_parsing_of_a_real_scst_driver_text() -> None:
    text = ('Usage: echo "add_target target_name [parameters]" >mgmt\n'
            '       echo "del_target target_name" >mgmt\n'
            '       echo "add_attribute <attribute> <value>" >mgmt\n\n'
            "where parameters are one or more param_name=value pairs separated by ';'\n\n"
            "The following target driver attributes available: IncomingUser, OutgoingUser\n"
            "The following target attributes available: IncomingUser, OutgoingUser, "
            "allowed_portal\n\n")
    parsed = MgmtHelp.parse(text)
    assert parsed.verbs == ("add_target", "del_target", "add_attribute")
    assert parsed.command("ADD_TARGET").takes_parameters
    assert not parsed.command("del_target").takes_parameters
    assert parsed.parameters == ()
    assert parsed.lists["target attributes"] == ("IncomingUser", "OutgoingUser", "allowed_portal")


def test_reads_writes_and_errors_through_the_mount(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(1 << 20))
    sysfs = ScstSysfs(tree.root)
    sysfs.check()
    assert "filename" in sysfs.mgmt_help("handlers/vdisk_fileio").parameters
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}; blocksize=4096")
    assert sysfs.attribute("devices/disk1/blocksize") == AttributeValue("4096", True)
    # fileio's size is always a key on SCST (read-only and no creation parameter: not saved)
    assert sysfs.key_attributes("devices/disk1") == {"blocksize": "4096", "filename": str(disk),
                                                     "size": str(disk.stat().st_size)}
    assert sysfs.readlink("devices/disk1/handler") == "vdisk_fileio"
    assert "disk1" in sysfs.links("handlers/vdisk_fileio")
    assert "devices/disk1/blocksize" in set(sysfs.walk("devices"))

    with pytest.raises(SysfsError) as caught:
        sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}")
    assert caught.value.errno == errno.EEXIST
    assert "handlers/vdisk_fileio/mgmt" in str(caught.value) and "EEXIST" in str(caught.value)
    assert sysfs.read("last_sysfs_mgmt_res") == f"-{errno.EEXIST}\n"
    with pytest.raises(SysfsError) as caught:
        sysfs.write("devices/nonexistent/blocksize", "512")
    assert caught.value.errno == errno.ENOENT


def test_check_refuses_a_directory_that_is_no_tree(tmp_path: Path) -> None:
    with pytest.raises(SysfsError, match="no SCST sysfs tree"):
        ScstSysfs(tmp_path).check()
