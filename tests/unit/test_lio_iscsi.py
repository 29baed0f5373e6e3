"""iSCSI targets on the emulated kernel: every operation, its failures and its undo."""

from __future__ import annotations

import errno

import pytest

from tcmu_scst.lio import (
    Chap,
    ConfigfsError,
    IscsiTarget,
    MappedLun,
    NodeAcl,
    UserBackstore,
    create_user_backstore,
    discovery_chap,
    list_targets,
    set_discovery_chap,
)
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio, login, logout

IQN = "iqn.2003-01.org.example:t1"
INITIATOR = "iqn.1994-05.com.example:i1"
OTHER = "iqn.1994-05.com.example:i2"


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def disks(fs: EmulatedConfigfs) -> list[UserBackstore]:
    return [create_user_backstore(name, index, "vdisk_fileio", name, 1 << 20, configfs=fs)
            for index, name in enumerate(("d0", "d1"))]


@pytest.fixture
def target(fs: EmulatedConfigfs, disks: list[UserBackstore]) -> IscsiTarget:
    target = IscsiTarget(IQN, fs)
    target.create()
    target.add_lun(0, disks[0])
    target.add_lun(1, disks[1])
    return target


def unchanged(fs: EmulatedConfigfs, code: int, call, *args, **kwargs) -> ConfigfsError:
    """Run a call that must fail with ``code`` and leave configfs exactly as it was."""
    before = snapshot(fs)
    with pytest.raises(OSError) as failure:
        call(*args, **kwargs)
    assert failure.value.errno == code, failure.value
    assert snapshot(fs) == before
    return failure.value


def test_create_makes_fabric_target_and_tpg_and_remove_takes_them_away(
        fs: EmulatedConfigfs) -> None:
    target = IscsiTarget(IQN, fs)
    assert not target.exists()
    target.create()
    assert target.exists() and not target.is_enabled()
    assert fs.subdirs(f"target/iscsi/{IQN}") == ["fabric_statistics", "param", "tpgt_1"]
    unchanged(fs, errno.EEXIST, target.create)
    second = IscsiTarget(IQN, fs, tag=2)
    second.create()
    target.remove()
    assert fs.subdirs(f"target/iscsi/{IQN}") == ["fabric_statistics", "param", "tpgt_2"]
    second.remove()
    assert fs.subdirs("target/iscsi") == ["discovery_auth"]
    assert [entry.iqn for entry in list_targets(fs)] == []


def test_a_target_name_the_kernel_refuses_leaves_nothing(fs: EmulatedConfigfs) -> None:
    with pytest.raises(OSError) as failure:
        IscsiTarget("iqn." + "x" * 230, fs)
    assert failure.value.errno == errno.EINVAL
    target = IscsiTarget(IQN, fs, tag=70000)
    unchanged(fs, errno.EINVAL, target.create)
    assert not fs.exists("target/iscsi")  # the fabric made for it went too


def test_luns_portals_and_enable(target: IscsiTarget, disks: list[UserBackstore]) -> None:
    assert target.luns() == {0: disks[0].cfs_path, 1: disks[1].cfs_path}
    target.add_portal("127.0.0.1", 3260)
    target.add_portal("::1", 3260)
    assert sorted(target.portals()) == [("127.0.0.1", 3260), ("::1", 3260)]
    target.enable()
    assert target.is_enabled()
    target.enable(False)
    assert not target.is_enabled()
    target.remove_portal("::1", 3260)
    assert target.portals() == [("127.0.0.1", 3260)]
    with pytest.raises(OSError) as failure:
        target.add_portal("localhost", 3260)
    assert failure.value.errno == errno.EINVAL


def test_lun_add_undoes_its_mkdir_when_the_link_is_refused(fs: EmulatedConfigfs,
                                                         target: IscsiTarget) -> None:
    fs.mkdir("target/core/user_9")
    fs.mkdir("target/core/user_9/cold")  # never enabled
    cold = UserBackstore(fs, 9, "cold")
    error = unchanged(fs, errno.ENODEV, target.add_lun, 2, cold)
    assert "lun_2" in str(error)
    unchanged(fs, errno.EEXIST, target.add_lun, 1, cold)
    unchanged(fs, errno.EINVAL, target.add_lun, 3, "/not/under/core")


def test_old_path_based_calls_still_work(fs: EmulatedConfigfs,
                                         disks: list[UserBackstore]) -> None:
    target = IscsiTarget(IQN, fs)
    target.create()
    target.link_lun(0, disks[0].path)  # an absolute host path, as the standalone exporter has
    target.add_portal()
    target.open_access()
    target.enable()
    assert target.luns() == {0: disks[0].cfs_path}
    assert str(target.tpg) == f"/emulated-configfs/target/iscsi/{IQN}/tpgt_1"
    target.remove()
    assert not fs.exists(f"target/iscsi/{IQN}")


def test_demo_mode_and_authentication(target: IscsiTarget) -> None:
    target.set_demo_mode(True)
    assert target.demo_mode()
    assert target.get_attribute("cache_dynamic_acls") == "1"
    assert target.get_attribute("demo_mode_write_protect") == "0"
    target.set_demo_mode(True, write_protect=True)
    assert target.get_attribute("demo_mode_write_protect") == "1"
    target.set_authentication(False)
    assert target.get_param("AuthMethod") == "CHAP,None"
    target.set_authentication(True)
    assert target.get_param("AuthMethod") == "CHAP"
    target.set_demo_mode(False)
    assert not target.demo_mode()


def test_attribute_sets_are_all_or_nothing(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    unchanged(fs, errno.EINVAL, target.set_attributes,
              {"login_timeout": "20", "default_cmdsn_depth": "1000"})
    assert target.get_attribute("login_timeout") == "15"


def test_parameters(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    target.set_params({"InitialR2T": "No", "MaxRecvDataSegmentLength": "65536",
                       "HeaderDigest": "CRC32C"})
    assert target.get_param("InitialR2T") == "No"
    assert target.params()["MaxRecvDataSegmentLength"] == "65536"
    unchanged(fs, errno.EINVAL, target.set_params,
              {"ImmediateData": "No", "MaxBurstLength": "16777216"})
    assert target.get_param("ImmediateData") == "Yes"
    unchanged(fs, errno.ENOENT, target.set_param, "NoSuchKey", "1")


def test_acl_with_mapped_luns_tag_and_chap(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    chap = Chap("joe", "secretsecret12", "tgt", "tsecretsecret1")
    target.add_acl(INITIATOR, {0: MappedLun(1, read_only=True), 5: 0}, tag="group1", chap=chap)
    assert target.acl(INITIATOR) == NodeAcl(INITIATOR, "group1", {
        0: MappedLun(1, True), 5: MappedLun(0, False)})
    assert target.acl_chap(INITIATOR) == chap
    assert fs.read(f"{target.acl_path(INITIATOR)}/auth/authenticate_target") == "1\n"
    target.add_acl(OTHER, {0: 1}, tag="group1")
    assert target.acls_tagged("group1") == [INITIATOR, OTHER]
    target.set_acl_tag(OTHER, None)
    assert target.acl_tag(OTHER) is None
    target.set_read_only(INITIATOR, 5, True)
    assert target.mapped_luns(INITIATOR)[5].read_only
    target.unmap_lun(INITIATOR, 5)
    assert list(target.mapped_luns(INITIATOR)) == [0]
    target.map_lun(INITIATOR, 7, 0)
    assert target.mapped_luns(INITIATOR)[7] == MappedLun(0)
    target.set_acl_chap(INITIATOR, None)
    assert target.acl_chap(INITIATOR) == Chap()
    assert fs.read(f"{target.acl_path(INITIATOR)}/auth/userid") == "NULL\n"
    target.remove_acl(INITIATOR)
    assert target.acls() == [OTHER]


def test_acl_failures_leave_nothing_behind(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    unchanged(fs, errno.ENOENT, target.add_acl, INITIATOR, {0: 0, 1: 9})  # no TPG LUN 9
    unchanged(fs, errno.EINVAL, target.add_acl, INITIATOR, {0: 0}, tag="x" * 64)
    unchanged(fs, errno.EINVAL, target.add_acl, INITIATOR, {0: 0},
              chap=Chap("joe", "p" * 256))
    unchanged(fs, errno.EINVAL, target.add_acl, INITIATOR, chap=Chap("joe", ""))
    unchanged(fs, errno.EINVAL, target.add_acl, "bad/name")
    target.add_acl(INITIATOR, {0: 0})
    unchanged(fs, errno.EEXIST, target.add_acl, INITIATOR)
    unchanged(fs, errno.EEXIST, target.map_lun, INITIATOR, 0, 1)
    unchanged(fs, errno.ENOENT, target.unmap_lun, INITIATOR, 3)
    unchanged(fs, errno.ENOENT, target.remove_acl, OTHER)


def test_a_mapped_lun_cannot_be_removed(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    target.add_acl(INITIATOR, {0: 1})
    error = unchanged(fs, errno.EBUSY, target.remove_lun, 1)
    assert INITIATOR in str(error)
    unchanged(fs, errno.ENOENT, target.remove_lun, 4)
    target.remove_lun(0)
    assert list(target.luns()) == [1]


def test_remove_acl_restores_the_mappings_if_the_rmdir_is_refused(
        fs: EmulatedConfigfs, target: IscsiTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    target.add_acl(INITIATOR, {0: MappedLun(0, True), 3: 1})
    acl = str(target.acl_path(INITIATOR))
    original = fs.rmdir

    def refusing_rmdir(path) -> None:
        if str(path) == acl:
            raise ConfigfsError(errno.EBUSY, "rmdir", path)
        original(path)

    monkeypatch.setattr(fs, "rmdir", refusing_rmdir)
    unchanged(fs, errno.EBUSY, target.remove_acl, INITIATOR)
    assert target.mapped_luns(INITIATOR) == {0: MappedLun(0, True), 3: MappedLun(1)}


def test_tpg_chap_and_discovery_chap(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    target.set_chap(Chap("demo", "demosecret12"))
    assert target.chap() == Chap("demo", "demosecret12")
    unchanged(fs, errno.EINVAL, target.set_chap, Chap("demo", "NULLsecret"))
    unchanged(fs, errno.EINVAL, target.set_chap, Chap("demo", "two\nlines"))
    target.set_chap(None)
    assert target.chap() == Chap()
    set_discovery_chap(Chap("disc", "discsecret12"), enforce=True, configfs=fs)
    assert discovery_chap(fs) == (Chap("disc", "discsecret12"), True)
    unchanged(fs, errno.EINVAL, set_discovery_chap, Chap("d", "x" * 256), True, fs)
    set_discovery_chap(None, enforce=False, configfs=fs)
    assert discovery_chap(fs) == (Chap(), False)


def test_sessions_explicit_and_dynamic(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    target.add_acl(INITIATOR, {0: 0}, tag="group1")
    target.add_portal()
    target.set_demo_mode(True)
    target.enable()
    assert target.sessions() == []
    login(fs, IQN, INITIATOR, "192.0.2.7", alias="host7")
    login(fs, IQN, OTHER, "192.0.2.8")
    explicit, dynamic = target.sessions()
    assert (explicit.initiator, explicit.tag, explicit.addresses, explicit.alias) == (
        INITIATOR, "group1", ("192.0.2.7",), "host7")
    assert explicit.session_id == 1 and explicit.state == "TARG_SESS_STATE_LOGGED_IN"
    assert not explicit.dynamic
    assert (dynamic.initiator, dynamic.dynamic, dynamic.addresses) == (OTHER, True, ())
    assert fs.read(f"{target.acl_path(INITIATOR)}/param/InitialR2T") == "1\n"
    logout(fs, IQN, OTHER)
    assert [session.initiator for session in target.sessions()] == [INITIATOR]
    target.enable(False)  # disabling the TPG ends every session
    assert target.sessions() == []


def test_login_rules_of_the_session_player(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    with pytest.raises(ConnectionRefusedError):
        login(fs, IQN, INITIATOR)
    target.enable()
    with pytest.raises(PermissionError):
        login(fs, IQN, INITIATOR)  # no ACL, no demo mode


def test_remove_tears_down_everything_in_order(fs: EmulatedConfigfs, target: IscsiTarget,
                                               disks: list[UserBackstore]) -> None:
    target.add_portal()
    target.add_acl(INITIATOR, {0: 0, 1: 1}, tag="g")
    target.enable()
    mark = fs.mark()
    target.remove()
    ops = [(entry.op, entry.path.split("tpgt_1/")[-1]) for entry in fs.changes_since(mark)]
    assert ops[0] == ("write", "enable")
    assert ops.index(("rmdir", f"acls/{INITIATOR}")) < ops.index(("rmdir", "lun/lun_0"))
    assert ops[-2:] == [("rmdir", f"target/iscsi/{IQN}/tpgt_1"), ("rmdir", f"target/iscsi/{IQN}")]
    assert all(disk.exists() and not disk.is_exported() for disk in disks)
