"""The emulated LIO configfs: generic configfs rules, kernel objects, the operation log.

Each rule asserted here is also checked against the real kernel by the conformance scenario
(tests/system/test_lio_vm.py); these tests pin the emulation's behaviour down directly.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.lio.configfs import ConfigfsError
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio
from tcmu_scst.testing.lio.conformance import compare, run_emulated
from tcmu_scst.testing.lio.filesystem import Operation
from tcmu_scst.testing.lio.scenario import steps

SO = "target/core/user_1/d1"
TPG = "target/iscsi/iqn.2003-01.org.example:t1/tpgt_1"
CONTROL = "dev_config=vdisk_fileio/d1,dev_size=1048576,hw_max_sectors=2048,nl_reply_supported=-1"


def refused(code: int, call, *args) -> ConfigfsError:
    with pytest.raises(ConfigfsError) as failure:
        call(*args)
    assert failure.value.errno == code, failure.value
    return failure.value


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


def enabled_device(fs: EmulatedConfigfs, path: str = SO) -> str:
    hba = path.rsplit("/", 1)[0]
    if not fs.exists(hba):
        fs.mkdir(hba)
    fs.mkdir(path)
    fs.write(f"{path}/control", CONTROL)
    fs.write(f"{path}/enable", "1")
    return path


def test_fresh_tree_is_what_the_kernel_shows_after_loading_the_modules(
        fs: EmulatedConfigfs) -> None:
    assert fs.listdir("target") == ["core", "dbroot", "version"]
    assert fs.listdir("target/core") == ["alua"]
    assert fs.read("target/dbroot") == "/etc/target\n"


def test_mkdir_of_a_storage_object_builds_its_default_groups(fs: EmulatedConfigfs) -> None:
    fs.mkdir("target/core/user_1")
    assert fs.listdir("target/core/user_1") == ["hba_info", "hba_mode"]
    fs.mkdir(SO)
    assert fs.listdir(SO) == ["action", "alias", "alua", "alua_lu_gp", "attrib", "control",
                              "enable", "info", "lba_map", "pr", "statistics", "udev_path",
                              "wwn"]
    assert fs.read(f"{SO}/attrib/hw_max_sectors") == "0\n"
    assert fs.read(f"{SO}/wwn/vendor_id") == "LIO-ORG\n"
    assert fs.read(f"{SO}/info").startswith("Status: DEACTIVATED")


def test_generic_configfs_errors(fs: EmulatedConfigfs) -> None:
    refused(errno.EINVAL, fs.mkdir, "target/core/foo_1")
    refused(errno.ENOENT, fs.mkdir, "target/core/user_1/d1")
    fs.mkdir("target/core/user_1")
    refused(errno.EEXIST, fs.mkdir, "target/core/user_1")
    fs.mkdir(SO)
    refused(errno.EPERM, fs.mkdir, f"{SO}/attrib/x")
    refused(errno.EPERM, fs.rmdir, f"{SO}/attrib")
    refused(errno.ENOTEMPTY, fs.rmdir, "target/core/user_1")
    refused(errno.ENOENT, fs.write, f"{SO}/attrib/no_such_attribute", "1")
    refused(errno.EACCES, fs.write, f"{SO}/info", "1")
    refused(errno.EACCES, fs.read, f"{SO}/control")
    refused(errno.EFAULT, fs.write, f"{SO}/control", "")
    refused(errno.EISDIR, fs.read, f"{SO}/attrib")
    refused(errno.ENOTDIR, fs.rmdir, f"{SO}/enable")
    refused(errno.EPERM, fs.unlink, f"{SO}/enable")
    refused(errno.EINVAL, fs.readlink, f"{SO}/enable")
    refused(errno.ENAMETOOLONG, fs.mkdir, "target/core/user_1/" + "x" * 256)


def test_tcmu_control_enable_and_attributes(fs: EmulatedConfigfs) -> None:
    fs.mkdir("target/core/user_1")
    fs.mkdir(SO)
    refused(errno.EINVAL, fs.write, f"{SO}/control", "hw_block_size=0")
    fs.write(f"{SO}/control", "unknown_key=1")  # ignored, as the kernel does
    fs.write(f"{SO}/control", CONTROL)
    refused(errno.EINVAL, fs.write, f"{SO}/enable", "0")
    refused(errno.EINVAL, fs.write, f"{SO}/action/block_dev", "1")  # not configured yet
    fs.write(f"{SO}/enable", "1")
    refused(errno.EEXIST, fs.write, f"{SO}/enable", "1")
    assert fs.kernel.uio_names == ["tcm-user/1/d1/vdisk_fileio/d1"]
    assert fs.read(f"{SO}/info").startswith(
        "Status: DEACTIVATED  Max Queue Depth: 0  SectorSize: 512  HwMaxSectors: 2048\n")
    refused(errno.EINVAL, fs.write, f"{SO}/control", "max_data_area_mb=32")
    refused(errno.ESRCH, fs.write, f"{SO}/attrib/dev_size", "2097152")  # netlink, no handler
    fs.write(f"{SO}/wwn/vpd_unit_serial", "abc")
    assert fs.read(f"{SO}/wwn/vpd_unit_serial") == "T10 VPD Unit Serial Number: abc\n"
    fs.rmdir(SO)
    assert fs.kernel.uio_names == []


def test_a_linked_device_is_busy_and_frozen(fs: EmulatedConfigfs) -> None:
    enabled_device(fs)
    for path in ("target/iscsi", "target/iscsi/iqn.2003-01.org.example:t1", TPG,
                 f"{TPG}/lun/lun_0"):
        fs.mkdir(path)
    fs.symlink(SO, f"{TPG}/lun/lun_0/d1")
    assert fs.read(f"{SO}/info").startswith("Status: ACTIVATED")
    refused(errno.EBUSY, fs.rmdir, SO)
    refused(errno.EINVAL, fs.write, f"{SO}/attrib/cmd_time_out", "10")
    refused(errno.EINVAL, fs.write, f"{SO}/wwn/vpd_unit_serial", "other")
    refused(errno.EEXIST, fs.symlink, SO, f"{TPG}/lun/lun_0/again")
    refused(errno.ENOTEMPTY, fs.rmdir, f"{TPG}/lun/lun_0")
    fs.unlink(f"{TPG}/lun/lun_0/d1")
    fs.rmdir(SO)


def test_lun_symlinks_need_an_enabled_storage_object(fs: EmulatedConfigfs) -> None:
    fs.mkdir("target/core/user_1")
    fs.mkdir(SO)
    for path in ("target/iscsi", "target/iscsi/iqn.2003-01.org.example:t1", TPG,
                 f"{TPG}/lun/lun_0"):
        fs.mkdir(path)
    refused(errno.ENODEV, fs.symlink, SO, f"{TPG}/lun/lun_0/d1")
    refused(errno.EFAULT, fs.symlink, "target/iscsi", f"{TPG}/lun/lun_0/d1")
    refused(errno.ENODEV, fs.read, f"{TPG}/lun/lun_0/alua_tg_pt_gp")
    refused(errno.EINVAL, fs.mkdir, f"{TPG}/lun/lun_x")


def test_mapped_luns_follow_the_fabric_rules(fs: EmulatedConfigfs) -> None:
    enabled_device(fs)
    other = "target/iscsi/iqn.2003-01.org.example:t2/tpgt_1"
    for path in ("target/iscsi", "target/iscsi/iqn.2003-01.org.example:t1", TPG,
                 f"{TPG}/lun/lun_0", f"{TPG}/lun/lun_1", "target/iscsi/iqn.2003-01.org.example:t2",
                 other, f"{other}/lun/lun_0"):
        fs.mkdir(path)
    fs.symlink(SO, f"{TPG}/lun/lun_0/d1")
    fs.symlink(SO, f"{other}/lun/lun_0/d1")
    acl = f"{TPG}/acls/iqn.1994-05.com.example:i1"
    fs.mkdir(acl)
    fs.mkdir(f"{acl}/lun_0")
    assert fs.read(f"{acl}/lun_0/write_protect") == ""
    refused(errno.EFAULT, fs.symlink, SO, f"{acl}/lun_0/m")
    refused(errno.EINVAL, fs.symlink, f"{other}/lun/lun_0", f"{acl}/lun_0/m")
    refused(errno.EINVAL, fs.symlink, f"{TPG}/lun/lun_1", f"{acl}/lun_0/m")  # no device
    fs.write(f"{TPG}/attrib/prod_mode_write_protect", "1")
    fs.symlink(f"{TPG}/lun/lun_0", f"{acl}/lun_0/m")
    assert fs.read(f"{acl}/lun_0/write_protect") == "1\n"
    refused(errno.EINVAL, fs.symlink, f"{TPG}/lun/lun_0", f"{acl}/lun_0/again")
    refused(errno.EBUSY, fs.rmdir, f"{TPG}/lun/lun_0")
    fs.unlink(f"{TPG}/lun/lun_0/d1")
    assert fs.read(f"{acl}/lun_0/write_protect") == ""  # the mapping died with the device
    fs.symlink(SO, f"{TPG}/lun/lun_0/d1")
    assert fs.read(f"{acl}/lun_0/write_protect") == ""  # and does not come back


def test_iscsi_tpg_attributes_parameters_and_auth(fs: EmulatedConfigfs) -> None:
    for path in ("target/iscsi", "target/iscsi/iqn.2003-01.org.example:t1", TPG):
        fs.mkdir(path)
    assert "rtpi" not in fs.listdir(TPG)
    refused(errno.EINVAL, fs.write, f"{TPG}/attrib/login_timeout", "31")
    fs.write(f"{TPG}/attrib/generate_node_acls", "1")
    fs.write(f"{TPG}/attrib/cache_dynamic_acls", "0")
    assert fs.read(f"{TPG}/attrib/cache_dynamic_acls") == "1\n"
    fs.write(f"{TPG}/attrib/authentication", "0")
    assert fs.read(f"{TPG}/param/AuthMethod") == "CHAP,None\n"
    refused(errno.EINVAL, fs.write, f"{TPG}/param/InitialR2T", "no")
    fs.write(f"{TPG}/param/MaxRecvDataSegmentLength", "65536\n")
    assert fs.read(f"{TPG}/param/MaxRecvDataSegmentLength") == "65536\n"
    fs.write(f"{TPG}/param/DefaultTime2Wait", "12abc")  # the kernel checks only the 12
    assert fs.read(f"{TPG}/param/DefaultTime2Wait") == "12abc\n"
    fs.write(f"{TPG}/auth/password", "x" * 300)  # a TPG cuts it, an ACL would refuse
    assert fs.read(f"{TPG}/auth/password") == "x" * 255 + "\n"
    fs.write(f"{TPG}/auth/userid_mutual", "t")
    fs.write(f"{TPG}/auth/password_mutual", "secret")
    assert fs.read(f"{TPG}/auth/authenticate_target") == "1\n"
    fs.write(f"{TPG}/auth/userid", "NULL")
    assert fs.read(f"{TPG}/auth/userid") == "NULL\n"
    fs.write(f"{TPG}/enable", "1")
    fs.write(f"{TPG}/enable", "1")
    fs.write(f"{TPG}/param/MaxBurstLength", "1048576")  # nothing is frozen while enabled


def test_iscsi_portals_share_and_conflict_like_sockets(fs: EmulatedConfigfs) -> None:
    t1, t2 = "target/iscsi/iqn.2003-01.org.example:t1", "target/iscsi/iqn.2003-01.org.example:t2"
    for path in ("target/iscsi", t1, f"{t1}/tpgt_1", f"{t1}/tpgt_2", t2, f"{t2}/tpgt_1"):
        fs.mkdir(path)
    refused(errno.EINVAL, fs.mkdir, f"{t1}/tpgt_1/np/localhost:3260")
    refused(errno.EINVAL, fs.mkdir, f"{t1}/tpgt_1/np/::1:3260")
    fs.mkdir(f"{t1}/tpgt_1/np/127.0.0.1:3260")
    fs.mkdir(f"{t2}/tpgt_1/np/127.0.0.1:3260")  # shared by two targets
    refused(errno.EINVAL, fs.mkdir, f"{t1}/tpgt_2/np/127.0.0.1:3260")  # not by two TPGs
    fs.mkdir(f"{t1}/tpgt_1/np/0.0.0.0:3261")
    refused(errno.EINVAL, fs.mkdir, f"{t2}/tpgt_1/np/127.0.0.1:3261")
    fs.mkdir(f"{t2}/tpgt_1/np/[::1]:3261")
    refused(errno.EINVAL, fs.mkdir, f"{t2}/tpgt_1/np/[::]:3261")


def test_loopback_nexus_and_disks(tmp_path: Path) -> None:
    fs = emulated_lio(sysfs=tmp_path)
    enabled_device(fs)
    tpg = "target/loopback/naa.5001405000000abc/tpgt_1"
    for path in ("target/loopback", "target/loopback/naa.5001405000000abc", tpg):
        fs.mkdir(path)
    refused(errno.ENODEV, fs.read, f"{tpg}/nexus")
    refused(errno.EINVAL, fs.write, f"{tpg}/nexus", "iqn.1994-05.com.example:x")
    fs.write(f"{tpg}/nexus", "naa.5001405000000def")
    refused(errno.EEXIST, fs.write, f"{tpg}/nexus", "naa.5001405000000ddd")
    assert fs.read(f"{tpg}/address") == "0:0:1\n"
    fs.mkdir(f"{tpg}/lun/lun_2")
    fs.symlink(SO, f"{tpg}/lun/lun_2/d1")
    assert (tmp_path / "class/scsi_device/0:0:1:2/device/block/sda").is_dir()
    refused(errno.EPERM, fs.write, f"{tpg}/nexus", "NULL")
    fs.unlink(f"{tpg}/lun/lun_2/d1")
    assert not (tmp_path / "class/scsi_device/0:0:1:2").exists()
    fs.write(f"{tpg}/nexus", "NULL")
    refused(errno.ENOSYS, fs.mkdir, f"{tpg}/np/x")


def test_loopback_lun_before_nexus_leaks_its_port(fs: EmulatedConfigfs) -> None:
    enabled_device(fs)
    wwn = "target/loopback/naa.5001405000000abc"
    for path in ("target/loopback", wwn, f"{wwn}/tpgt_1", f"{wwn}/tpgt_1/lun/lun_0"):
        fs.mkdir(path)
    fs.symlink(SO, f"{wwn}/tpgt_1/lun/lun_0/d1")
    fs.write(f"{wwn}/tpgt_1/nexus", "naa.5001405000000def")
    assert fs.kernel.disks == {}
    fs.unlink(f"{wwn}/tpgt_1/lun/lun_0/d1")
    fs.rmdir(f"{wwn}/tpgt_1/lun/lun_0")
    refused(errno.EPERM, fs.write, f"{wwn}/tpgt_1/nexus", "NULL")
    fs.rmdir(f"{wwn}/tpgt_1")
    fs.mkdir(f"{wwn}/tpgt_1")
    refused(errno.EEXIST, fs.write, f"{wwn}/tpgt_1/nexus", "naa.5001405000000def")
    fs.rmdir(f"{wwn}/tpgt_1")
    fs.rmdir(wwn)


def test_fc_names_and_single_tpg(fs: EmulatedConfigfs) -> None:
    fs.mkdir("target/fc")
    refused(errno.EINVAL, fs.mkdir, "target/fc/20:00:00:19:99:A8:34:BC")
    refused(errno.EINVAL, fs.mkdir, "target/fc/naa.2000001999a834bc")
    wwn = "target/fc/20:00:00:19:99:a8:34:bc"
    fs.mkdir(wwn)
    refused(errno.EINVAL, fs.mkdir, f"{wwn}/tpgt_2")
    fs.mkdir(f"{wwn}/tpgt_1")
    assert fs.listdir(f"{wwn}/tpgt_1") == ["acls", "attrib", "auth", "lun", "np", "param"]
    acl = f"{wwn}/tpgt_1/acls/21:00:00:19:99:a8:34:bd"
    fs.mkdir(acl)
    assert fs.read(f"{acl}/port_name") == "21:00:00:19:99:a8:34:bd\n"
    refused(errno.EPERM, fs.write, f"{acl}/port_name", "20:00:00:00:00:00:00:01")


def test_unknown_fabric_or_one_not_loaded() -> None:
    fs = emulated_lio(fabrics=("iscsi",))
    refused(errno.EINVAL, fs.mkdir, "target/fc")
    refused(errno.EINVAL, fs.mkdir, "target/srpt")
    fs.mkdir("target/iscsi")


def test_the_log_records_every_mutation_with_its_outcome(fs: EmulatedConfigfs) -> None:
    mark = fs.mark()
    fs.mkdir("target/core/user_1")
    refused(errno.EINVAL, fs.mkdir, "target/core/nope")
    fs.read("target/dbroot")  # reads are not logged
    assert fs.log[mark:] == [
        Operation("mkdir", "target/core/user_1"),
        Operation("mkdir", "target/core/nope", None, errno.EINVAL),
    ]
    assert fs.changes_since(mark) == [Operation("mkdir", "target/core/user_1")]
    assert fs.refusals[-1].startswith("mkdir target/core/nope: 'nope'")


def test_snapshot_reads_every_value(fs: EmulatedConfigfs) -> None:
    enabled_device(fs)
    tree = snapshot(fs, SO)
    assert tree["control"] == "<EACCES>"
    assert tree["attrib/hw_max_sectors"] == "2048\n"
    assert tree["alua/default_tg_pt_gp"] == "/"


def test_the_conformance_scenario_runs_on_the_emulation_and_ends_clean() -> None:
    outcomes = run_emulated()
    assert len(outcomes) == len(steps())
    assert outcomes[-1] == outcomes[0]  # configfs as it started
    assert "OK" in outcomes and "<EINVAL>" in outcomes
    assert compare(outcomes, outcomes) == []
    changed = list(outcomes)
    changed[1] = "OK"
    assert compare(outcomes, changed) == [
        f"step 1 'mkdir' 'core/badname': kernel {outcomes[1]!r}, emulation 'OK'"]
