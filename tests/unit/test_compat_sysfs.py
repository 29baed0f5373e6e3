"""The SCST tree over a recording realizer: every mgmt command, attribute and error path."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.grammar import c_integer, parameters, split_command
from tcmu_scst.compat_sysfs.nodes import Link
from tcmu_scst.compat_sysfs.realizer import ConnectionInfo, SessionInfo
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.testing.recording_realizer import RecordingRealizer

IQN = "iqn.2006-10.net.vlnb:tgt"
TARGET = f"/targets/iscsi/{IQN}"


@pytest.fixture
def realizer() -> RecordingRealizer:
    return RecordingRealizer()


@pytest.fixture
def scst(realizer: RecordingRealizer) -> ScstSystem:
    return ScstSystem(realizer)


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk1"
    path.write_bytes(bytes(16 << 20))
    return path


def fails(scst: ScstSystem, path: str, text: str, code: int, words: str = "") -> None:
    with pytest.raises(OSError) as caught:
        scst.tree.write(path, text)
    assert caught.value.errno == code, caught.value
    assert words in str(caught.value)
    assert scst.tree.read("/last_sysfs_mgmt_res") == f"-{code}\n"


def example(scst: ScstSystem, disk: Path) -> None:
    """The announcement's example, with blocksize in bytes."""
    scst.tree.write("/handlers/vdisk_fileio/mgmt",
                    f"add_device disk1 filename={disk}; blocksize=4096\n")
    scst.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}\n")
    scst.tree.write(f"{TARGET}/luns/mgmt", "add disk1 0\n")
    scst.tree.write(f"{TARGET}/enabled", "1\n")
    scst.tree.write("/targets/iscsi/enabled", "1\n")


def test_grammar_follows_scst() -> None:
    assert parameters(" filename = /x;blocksize=4096\n") == [("filename", "/x"),
                                                             ("blocksize", "4096")]
    assert parameters("a=1;;b=2") == [("a", "1")]  # an empty segment ends the list
    assert parameters("FileName=/x") == [("filename", "/x")]
    assert split_command("ADD_DEVICE d1") == ("add_device", " d1")
    assert (c_integer("0x10", "n"), c_integer("010", "n"), c_integer("-1", "n")) == (16, 8, -1)
    with pytest.raises(OSError, match="value missed"):
        parameters("filename")
    with pytest.raises(OSError, match="too many values"):
        parameters("filename /a /b")


def test_announcement_example(scst: ScstSystem, disk: Path, realizer: RecordingRealizer) -> None:
    example(scst, disk)
    tree = scst.tree
    assert tree.read("/devices/disk1/blocksize") == "4096\n[key]\n"
    assert tree.read("/devices/disk1/filename") == f"{disk}\n[key]\n\n"
    assert tree.read("/devices/disk1/size_mb") == "16\n"
    assert tree.read("/devices/disk1/type").startswith("0 - Direct-access")
    assert tree.read("/devices/disk1/t10_dev_id") == "b8fdbd32-disk1\n"
    assert tree.lookup("/devices/disk1/handler") == Link("../../handlers/vdisk_fileio")
    # export0 is the copy manager's LUN, given to every device as it is created (SCST)
    assert tree.lookup("/devices/disk1/exported/export0") == Link(
        "../../../targets/copy_manager/copy_manager_tgt/luns/0")
    assert tree.lookup("/devices/disk1/exported/export1") == Link(
        f"../../../targets/iscsi/{IQN}/luns/0")
    assert tree.lookup(f"{TARGET}/luns/0/device") == Link("../../../../../devices/disk1")
    assert tree.lookup("/handlers/vdisk_fileio/disk1") == Link("../../devices/disk1")
    assert tree.read(f"{TARGET}/enabled") == "1\n"
    assert tree.read(f"{TARGET}/rel_tgt_id") == "1\n[key]\n"
    assert tree.read("/last_sysfs_mgmt_res") == "0\n"
    operations = [operation for operation, _ in realizer.calls]
    assert operations == ["create_device", "create_target", "add_lun", "enable_target"]
    # the kernel side is enabled only once both the target and the driver are
    assert realizer.calls[-1][1] == ("iscsi", IQN, True)
    assert set(tree.listdir("/")) >= {"devices", "handlers", "targets", "version",
                                      "last_sysfs_mgmt_res"}


def test_handler_mgmt_help_lists_parameters(scst: ScstSystem) -> None:
    text = scst.tree.read("/handlers/vdisk_fileio/mgmt")
    assert text.startswith('Usage: echo "add_device device_name [parameters]" >mgmt\n')
    assert "The following parameters available: active, async," in text
    assert "The following parameters available: tst\n" in scst.tree.read("/handlers/vcdrom/mgmt")
    driver = scst.tree.read("/targets/iscsi/mgmt")
    assert driver.startswith('Usage: echo "add_target target_name [parameters]" >mgmt\n')
    assert "The following target attributes available: IncomingUser, OutgoingUser, " \
        "allowed_portal" in driver


def test_add_device_errors(scst: ScstSystem, disk: Path, realizer: RecordingRealizer) -> None:
    mgmt = "/handlers/vdisk_fileio/mgmt"
    fails(scst, mgmt, f"add_device d1 filename={disk}; blocksize=1", errno.EINVAL, "4096")
    fails(scst, mgmt, f"add_device d1 filename={disk}; colour=red", errno.EINVAL,
          "Unknown parameter 'colour'")
    fails(scst, mgmt, "add_device d1 blocksize=4096", errno.EINVAL, "File name required")
    fails(scst, mgmt, "add_device d1 filename=relative.img", errno.EINVAL, "absolute")
    fails(scst, mgmt, "add_device d1 filename=/no/such/file", errno.ENOENT)
    fails(scst, mgmt, f"add_device d1 filename={disk}; dif_type=1", errno.EINVAL, "dif_type")
    fails(scst, mgmt, "add_device", errno.EINVAL, "Device name required")
    fails(scst, mgmt, "remove_device d1", errno.EINVAL, "Unknown action")
    fails(scst, mgmt, "add_device " + "x" * 65 + f" filename={disk}", errno.EINVAL, "64")
    assert realizer.calls == [] and scst.tree.listdir("/devices") == []
    scst.tree.write(mgmt, f"add_device d1 filename={disk}")
    fails(scst, mgmt, f"add_device d1 filename={disk}", errno.EEXIST)
    fails(scst, "/handlers/vdisk_nullio/mgmt", "add_device d1", errno.EEXIST)
    fails(scst, mgmt, "del_device d1 extra", errno.EINVAL, "Syntax error")
    fails(scst, mgmt, "del_device nobody", errno.EINVAL, "not found")
    scst.tree.write(mgmt, "DEL_DEVICE d1")
    assert scst.tree.listdir("/devices") == []


def test_failed_realizer_leaves_nothing(scst: ScstSystem, disk: Path,
                                        realizer: RecordingRealizer) -> None:
    realizer.fail_on["create_device"] = OSError(errno.ENOSPC, "no room")
    fails(scst, "/handlers/vdisk_fileio/mgmt", f"add_device d1 filename={disk}", errno.ENOSPC)
    assert scst.tree.listdir("/devices") == []
    del realizer.fail_on["create_device"]
    example(scst, disk)
    realizer.fail_on["add_lun"] = OSError(errno.EIO, "configfs refused")
    fails(scst, f"{TARGET}/luns/mgmt", "add disk1 1", errno.EIO)
    assert scst.tree.listdir(f"{TARGET}/luns") == ["0", "mgmt"]
    assert scst.tree.listdir("/devices/disk1/exported") == ["export0", "export1"]


def test_nullio_and_flags(scst: ScstSystem) -> None:
    scst.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=64; read_only=1")
    assert scst.tree.read("/devices/n1/read_only") == "1\n[key]\n"
    assert scst.tree.read("/devices/n1/size_mb") == "64\n"
    assert scst.tree.read("/devices/n1/rotational") == "1\n"
    assert "filename" not in scst.tree.listdir("/devices/n1")
    fails(scst, "/handlers/vdisk_nullio/mgmt", "add_device n2 filename=/x", errno.EINVAL,
          "Unknown parameter")


def test_identity_attributes_become_key_when_written(scst: ScstSystem, disk: Path,
                                                     realizer: RecordingRealizer) -> None:
    example(scst, disk)
    assert scst.tree.read("/devices/disk1/usn") == "b8fdbd32\n"
    scst.tree.write("/devices/disk1/usn", "serial42\n")
    assert scst.tree.read("/devices/disk1/usn") == "serial42\n[key]\n"
    assert realizer.calls[-1] == ("set_device_attribute", ("disk1", "usn", "serial42"))
    fails(scst, "/devices/disk1/t10_vend_id", "MUCH-TOO-LONG", errno.EINVAL, "8")
    with pytest.raises(OSError) as caught:
        scst.tree.write("/devices/disk1/blocksize", "512")
    assert caught.value.errno == errno.EACCES


def test_lun_commands(scst: ScstSystem, disk: Path, realizer: RecordingRealizer) -> None:
    example(scst, disk)
    scst.tree.write("/handlers/vdisk_nullio/mgmt", "add_device n1")
    luns = f"{TARGET}/luns/mgmt"
    fails(scst, luns, "add disk1 0", errno.EEXIST)
    fails(scst, luns, "add nobody 1", errno.EINVAL, "not found")
    fails(scst, luns, "add n1 16384", errno.EINVAL, "out of range")
    fails(scst, luns, "add n1 x", errno.EINVAL, "not a number")
    fails(scst, luns, "add n1 1 colour=red", errno.EINVAL, "read_only")
    fails(scst, luns, "del 7", errno.EINVAL, "does not exist")
    fails(scst, luns, "del 0 extra", errno.EINVAL, "Syntax error")
    fails(scst, luns, "frobnicate", errno.EINVAL, "Unknown action")
    scst.tree.write(luns, "add n1 1 read_only=1")
    assert scst.tree.read(f"{TARGET}/luns/1/read_only") == "1\n[key]\n"
    scst.tree.write(luns, "replace n1 0")
    assert scst.tree.lookup(f"{TARGET}/luns/0/device") == Link("../../../../../devices/n1")
    assert scst.tree.listdir("/devices/disk1/exported") == ["export0"]  # copy manager
    assert scst.tree.listdir("/devices/n1/exported") == ["export0", "export1", "export2"]
    scst.tree.write(luns, "clear")
    assert scst.tree.listdir(f"{TARGET}/luns") == ["mgmt"]
    assert scst.tree.read(luns).endswith("The following parameters available: read_only\n")


def test_deleting_a_mapped_device_unmaps_it(scst: ScstSystem, disk: Path,
                                            realizer: RecordingRealizer) -> None:
    example(scst, disk)
    scst.tree.write("/handlers/vdisk_fileio/mgmt", "del_device disk1")
    assert scst.tree.listdir(f"{TARGET}/luns") == ["mgmt"]
    assert [operation for operation, _ in realizer.calls][-2:] == ["remove_lun", "delete_device"]


def test_targets_and_iscsi_attributes(scst: ScstSystem, disk: Path,
                                      realizer: RecordingRealizer) -> None:
    example(scst, disk)
    mgmt = "/targets/iscsi/mgmt"
    fails(scst, mgmt, f"add_target {IQN}", errno.EEXIST)
    fails(scst, mgmt, "del_target iqn.nobody", errno.ENOENT)
    fails(scst, mgmt, "add_target iqn.x Colour red", errno.EINVAL, "Unknown parameter")
    scst.tree.write(mgmt, "add_target iqn.2 InitialR2T Yes; IncomingUser joe secretsecret12")
    assert scst.tree.read("/targets/iscsi/iqn.2/InitialR2T") == "Yes\n[key]\n"
    assert scst.tree.read("/targets/iscsi/iqn.2/IncomingUser") == "joe secretsecret12\n[key]\n"
    assert scst.tree.lookup("/targets/iscsi/iqn.2/IncomingUser").mode & 0o777 == 0o600
    fails(scst, f"{TARGET}/MaxOutstandingR2T", "0", errno.EINVAL, "out of range")
    fails(scst, f"{TARGET}/InitialR2T", "maybe", errno.EINVAL, "Yes or No")
    scst.tree.write(f"{TARGET}/HeaderDigest", "crc32c,none")
    assert scst.tree.read(f"{TARGET}/HeaderDigest") == "None,CRC32C\n[key]\n"
    scst.tree.write(f"{TARGET}/HeaderDigest", ":default:")
    assert scst.tree.read(f"{TARGET}/HeaderDigest") == "None\n"
    fails(scst, mgmt, f"add_target_attribute {IQN} IncomingUser joe short", errno.EINVAL, "12")
    scst.tree.write(mgmt, f"add_target_attribute {IQN} IncomingUser joe secretsecret12")
    scst.tree.write(mgmt, f"add_target_attribute {IQN} IncomingUser ann secretsecret34")
    assert {"IncomingUser", "IncomingUser1"} <= set(scst.tree.listdir(TARGET))
    fails(scst, mgmt, f"add_target_attribute {IQN} IncomingUser joe secretsecret56",
          errno.EINVAL, "already exists")
    fails(scst, mgmt, "add_target_attribute iqn.none IncomingUser x secretsecret12",
          errno.ENOENT)
    scst.tree.write(mgmt, f"del_target_attribute {IQN} IncomingUser joe")
    assert "IncomingUser" not in scst.tree.listdir(TARGET)
    scst.tree.write(mgmt, "add_attribute IncomingUser disco secretsecret12")
    assert scst.tree.read("/targets/iscsi/IncomingUser") == "disco secretsecret12\n[key]\n"
    assert "IncomingUser, OutgoingUser" in scst.tree.read(mgmt)
    fails(scst, f"{TARGET}/enabled", "yes", errno.EINVAL)
    scst.tree.write(mgmt, f"del_target {IQN}")
    assert IQN not in scst.tree.listdir("/targets/iscsi")
    assert scst.tree.listdir("/devices/disk1/exported") == ["export0"]  # copy manager


def test_relative_target_ids(scst: ScstSystem, disk: Path) -> None:
    example(scst, disk)
    scst.tree.write("/targets/iscsi/mgmt", "add_target iqn.2")
    assert scst.tree.read("/targets/iscsi/iqn.2/rel_tgt_id") == "0\n"
    fails(scst, "/targets/iscsi/iqn.2/rel_tgt_id", "1", errno.EBADSLT)
    fails(scst, "/targets/iscsi/iqn.2/rel_tgt_id", "70000", errno.EINVAL)
    scst.tree.write("/targets/iscsi/iqn.2/enabled", "1")
    assert scst.tree.read("/targets/iscsi/iqn.2/rel_tgt_id") == "2\n[key]\n"


def test_groups_and_initiators(scst: ScstSystem, disk: Path,
                               realizer: RecordingRealizer) -> None:
    example(scst, disk)
    groups = f"{TARGET}/ini_groups/mgmt"
    scst.tree.write(groups, "create hosts")
    fails(scst, groups, "create hosts", errno.EEXIST)
    fails(scst, groups, "del nobody", errno.EINVAL)
    fails(scst, groups, "rename hosts", errno.EINVAL, "Unknown action")
    initiators = f"{TARGET}/ini_groups/hosts/initiators/mgmt"
    scst.tree.write(initiators, "add iqn.1994-05.com.redhat:host1")
    fails(scst, initiators, "add iqn.1994-05.com.redhat:host1", errno.EEXIST)
    fails(scst, initiators, "add iqn.*", errno.EINVAL, "exact initiator names")
    fails(scst, initiators, "del iqn.unknown", errno.EINVAL)
    assert scst.tree.read(f"{TARGET}/ini_groups/hosts/initiators/"
                          "iqn.1994-05.com.redhat:host1") == "iqn.1994-05.com.redhat:host1\n"
    scst.tree.write(f"{TARGET}/ini_groups/hosts/luns/mgmt", "add disk1 0")
    assert scst.tree.lookup(f"{TARGET}/ini_groups/hosts/luns/0/device") == Link(
        "../../../../../../../devices/disk1")
    scst.tree.write(groups, "create other")
    scst.tree.write(initiators, "move iqn.1994-05.com.redhat:host1 other")
    assert scst.tree.listdir(f"{TARGET}/ini_groups/other/initiators") == [
        "iqn.1994-05.com.redhat:host1", "mgmt"]
    realizer.live_sessions[("iscsi", IQN)] = [
        SessionInfo("iqn.1994-05.com.redhat:host1", ("10.0.0.2",), 5)]
    fails(scst, groups, "del other", errno.EBUSY, "live sessions")
    realizer.live_sessions.clear()
    scst.tree.write(groups, "del other")
    scst.tree.write(groups, "del hosts")
    assert scst.tree.listdir(f"{TARGET}/ini_groups") == ["mgmt"]


def test_sessions_show_initiators_and_addresses(scst: ScstSystem, disk: Path,
                                                realizer: RecordingRealizer) -> None:
    example(scst, disk)
    realizer.live_sessions[("iscsi", IQN)] = [
        SessionInfo("iqn.2005-03.org.open-iscsi:cacdcd2520", ("10.170.75.2",), 1),
        SessionInfo("iqn.2005-03.org.open-iscsi:cacdcd2520", ("10.170.75.3",), 2)]
    sessions = f"{TARGET}/sessions"
    names = scst.tree.listdir(sessions)
    assert names == ["iqn.2005-03.org.open-iscsi:cacdcd2520",
                     "iqn.2005-03.org.open-iscsi:cacdcd2520_1"]
    first = f"{sessions}/{names[0]}"
    assert scst.tree.read(f"{first}/10.170.75.2/ip") == "10.170.75.2\n"
    assert scst.tree.listdir(f"{first}/10.170.75.2") == ["ip"]  # nothing LIO did not say
    assert scst.tree.lookup(f"{first}/luns") == Link("../../luns")
    realizer.live_sessions[("iscsi", IQN)] = [
        SessionInfo("iqn.x", ("10.0.0.9",), 3, None,
                    (ConnectionInfo("10.0.0.9", 1, "TCP_CONN_STATE_LOGGED_IN"),))]
    connection = f"{sessions}/iqn.x/10.0.0.9"
    assert scst.tree.listdir(connection) == ["cid", "ip", "state"]
    assert scst.tree.read(f"{connection}/cid") == "1\n"
    assert scst.tree.read(f"{sessions}/iqn.x/sid") == "3\n"


def test_scst_local_and_fcst(scst: ScstSystem, disk: Path,
                             realizer: RecordingRealizer) -> None:
    scst.tree.write("/handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}")
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    assert ("add_local_session", ("local1", "s1")) in realizer.calls
    assert scst.tree.listdir("/targets/scst_local/local1/sessions") == ["s1"]
    scst.tree.write("/targets/scst_local/mgmt", "add_session local1 s2")
    fails(scst, "/targets/scst_local/mgmt", "add_session local1 s2", errno.EEXIST)
    assert "add_session" in scst.tree.read("/targets/scst_local/mgmt")
    realizer.ports.append("20:00:00:1b:21:06:58:21")
    fc = "/targets/fcst/20:00:00:1b:21:06:58:21"
    assert "mgmt" not in scst.tree.listdir("/targets/fcst")
    assert scst.tree.read(f"{fc}/enabled") == "0\n"
    assert not [call for call in realizer.calls if call[0] == "create_target"
                and call[1][0] == "fcst"]  # a port only looked at stays an initiator port
    scst.tree.write(f"{fc}/luns/mgmt", "add disk1 0")
    assert ("create_target", ("fcst", "20:00:00:1b:21:06:58:21", {})) in realizer.calls


def test_setup_id_and_root(scst: ScstSystem) -> None:
    assert scst.tree.read("/setup_id") == "0x0\n"
    scst.tree.write("/setup_id", "0x10")
    assert scst.tree.read("/setup_id") == "0x10\n[key]\n"
    fails(scst, "/setup_id", "lots", errno.EINVAL)
