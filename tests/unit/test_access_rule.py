"""The access rule, through the daemon's realizer on the emulated kernel: an initiator gets
exactly what SCST gives it (its group's LUNs; the default set when in no group) or is refused.

Initiators log in with the emulation's :func:`login`, which follows the kernel's node-ACL
rules, hidden ones included (dynamic ACLs, their caching and their conversion into explicit
ACLs); :func:`visible_luns` is what REPORT LUNS would list for that session.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.lio.access_plan import (
    ACL_ONLY,
    DEMO,
    GROUP_LUN_BASE,
    GroupSpec,
    LunExport,
    plan_access,
)
from tcmu_scst.lio.iscsi import IscsiTarget
from tcmu_scst.lio.loopback import LoopbackExport
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.lio.tpg import MappedLun
from tcmu_scst.testing.lio import (
    EmulatedConfigfs,
    discoverable,
    emulated_lio,
    login,
    logout,
    visible_luns,
)

from .test_daemon_realizer import FakeSupervisor

IQN = "iqn.2024-01.test:masked"
TARGET = f"/targets/iscsi/{IQN}"
MEMBER = "iqn.2024-01.init:member"
OUTSIDER = "iqn.2024-01.init:outsider"


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def scst(fs: EmulatedConfigfs, tmp_path: Path) -> ScstSystem:
    system = ScstSystem(LioRealizer(configfs=fs, supervisor=FakeSupervisor()))  # type: ignore[arg-type]
    for name in ("d1", "d2", "d3"):
        (tmp_path / name).write_bytes(bytes(1 << 20))
        system.tree.write("/handlers/vdisk_fileio/mgmt",
                          f"add_device {name} filename={tmp_path / name}")
    system.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}")
    system.tree.write(f"{TARGET}/enabled", "1")
    system.tree.write("/targets/iscsi/enabled", "1")
    return system


def write(scst: ScstSystem, path: str, text: str) -> None:
    scst.tree.write(f"{TARGET}/{path}", text)


def group(scst: ScstSystem, name: str, *initiators: str) -> None:
    write(scst, "ini_groups/mgmt", f"create {name}")
    for initiator in initiators:
        write(scst, f"ini_groups/{name}/initiators/mgmt", f"add {initiator}")


def devices_seen(fs: EmulatedConfigfs, initiator: str) -> dict[int, str]:
    """LUN -> device name, as ``initiator``'s current session sees them."""
    tpg = IscsiTarget(IQN, fs)
    exported = {number: path.name for number, path in tpg.luns().items() if path is not None}
    return {lun: exported[tpg_lun] for lun, (tpg_lun, _) in visible_luns(fs, IQN,
                                                                         initiator).items()}


def sees(fs: EmulatedConfigfs, initiator: str) -> dict[int, str]:
    """Log ``initiator`` in afresh and return what it sees."""
    login(fs, IQN, initiator)
    return devices_seen(fs, initiator)


def refused(fs: EmulatedConfigfs, initiator: str) -> bool:
    try:
        login(fs, IQN, initiator)
    except PermissionError:
        return not discoverable(fs, IQN, initiator)
    return False


def access_mode(scst: ScstSystem) -> str:
    return scst.tree.read(f"{TARGET}/access_mode").strip()


# --- the plan itself --------------------------------------------------------------------------

def test_plan_shares_tpg_luns_of_default_devices() -> None:
    plan = plan_access({0: LunExport("d1"), 1: LunExport("d2")},
                       {"g": GroupSpec(("a",), {0: LunExport("d2", read_only=True)})})
    assert plan.mode == DEMO and plan.tpg_luns == {0: "d1", 1: "d2"}
    assert plan.acls["a"].mapped == {0: (1, True)}


def test_plan_gives_group_only_devices_their_own_tpg_luns_and_keeps_them() -> None:
    groups = {"g": GroupSpec(("a",), {0: LunExport("d2")}),
              "h": GroupSpec(("b",), {3: LunExport("d3"), 4: LunExport("d2")})}
    plan = plan_access({0: LunExport("d1")}, groups)
    assert plan.mode == ACL_ONLY
    assert plan.tpg_luns == {0: "d1", GROUP_LUN_BASE: "d2", GROUP_LUN_BASE + 1: "d3"}
    assert plan.acls["b"].mapped == {3: (GROUP_LUN_BASE + 1, False),
                                     4: (GROUP_LUN_BASE, False)}
    # d2 leaves the groups: d3 keeps its TPG LUN (no remapping of unrelated LUNs)
    smaller = {"h": GroupSpec(("b",), {3: LunExport("d3")})}
    assert plan_access({0: LunExport("d1")}, smaller, previous=plan).tpg_luns == {
        0: "d1", GROUP_LUN_BASE + 1: "d3"}


def test_plan_without_demo_mode_is_always_acl_only() -> None:
    assert plan_access({0: LunExport("d1")}, {}, demo_capable=False).mode == ACL_ONLY


# --- the rule on the emulated kernel --------------------------------------------------------

def test_group_only_luns_refuse_outsiders(scst: ScstSystem, fs: EmulatedConfigfs,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """The issue's case: the only LUN is in a group; an outsider must get nothing."""
    group(scst, "g1", MEMBER)
    with caplog.at_level(logging.WARNING):
        write(scst, "ini_groups/g1/luns/mgmt", "add d1 0")
    assert sees(fs, MEMBER) == {0: "d1"}
    assert refused(fs, OUTSIDER)
    assert access_mode(scst) == ACL_ONLY
    [warning] = [record.message for record in caplog.records if "acl-only" in record.message]
    assert IQN in warning and "refused" in warning


def test_default_and_group_on_different_devices(scst: ScstSystem, fs: EmulatedConfigfs,
                                                caplog: pytest.LogCaptureFixture) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    group(scst, "g1", MEMBER)
    with caplog.at_level(logging.WARNING):
        write(scst, "ini_groups/g1/luns/mgmt", "add d2 0")
    assert sees(fs, MEMBER) == {0: "d2"}
    assert refused(fs, OUTSIDER)
    assert any("default LUN" in record.message for record in caplog.records)


def test_default_and_group_on_the_same_device(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    write(scst, "luns/mgmt", "add d2 1")
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 0 read_only=1")
    assert access_mode(scst) == DEMO
    assert sees(fs, MEMBER) == {0: "d2"}
    assert visible_luns(fs, IQN, MEMBER)[0][1] is True  # read-only in the group
    assert sees(fs, OUTSIDER) == {0: "d1", 1: "d2"}
    assert discoverable(fs, IQN, OUTSIDER)


def test_the_kernel_converts_a_dynamic_acl_and_keeps_its_luns(fs: EmulatedConfigfs,
                                                               scst: ScstSystem) -> None:
    """Why new ACLs are made clean: the leak, reproduced with a plain mkdir."""
    write(scst, "luns/mgmt", "add d1 0")
    write(scst, "luns/mgmt", "add d2 1")
    login(fs, IQN, OUTSIDER)
    logout(fs, IQN, OUTSIDER)  # the dynamic ACL stays cached
    IscsiTarget(IQN, fs).add_acl(OUTSIDER, {0: MappedLun(1)}, tag="g1")
    assert sees(fs, OUTSIDER) == {0: "d2", 1: "d2"}  # LUN 1 is an unseen leftover


@pytest.mark.parametrize("logged_in", [True, False])
def test_initiator_added_to_a_group_sees_only_the_group(scst: ScstSystem, fs: EmulatedConfigfs,
                                                        logged_in: bool) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    write(scst, "luns/mgmt", "add d2 1")
    group(scst, "g1")
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 0")
    assert sees(fs, OUTSIDER) == {0: "d1", 1: "d2"}
    if not logged_in:
        logout(fs, IQN, OUTSIDER)
    write(scst, "ini_groups/g1/initiators/mgmt", f"add {OUTSIDER}")
    with pytest.raises(PermissionError):  # its demo-mode session was ended
        visible_luns(fs, IQN, OUTSIDER)
    assert sees(fs, OUTSIDER) == {0: "d2"}
    assert access_mode(scst) == DEMO


def test_initiator_removed_from_a_group(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d1 5")
    assert sees(fs, MEMBER) == {5: "d1"}
    write(scst, "ini_groups/g1/initiators/mgmt", f"del {MEMBER}")
    with pytest.raises(PermissionError):
        visible_luns(fs, IQN, MEMBER)
    assert sees(fs, MEMBER) == {0: "d1"}  # now in no group: the default set


def test_initiator_removed_from_a_group_on_an_acl_only_target(scst: ScstSystem,
                                                              fs: EmulatedConfigfs) -> None:
    group(scst, "g1", MEMBER, "iqn.2024-01.init:other")
    write(scst, "ini_groups/g1/luns/mgmt", "add d1 0")
    assert sees(fs, MEMBER) == {0: "d1"}
    write(scst, "ini_groups/g1/initiators/mgmt", f"del {MEMBER}")
    assert refused(fs, MEMBER)


def test_a_group_without_members_needs_no_tpg_lun(scst: ScstSystem,
                                                  fs: EmulatedConfigfs) -> None:
    """Nobody can see a memberless group's LUNs: the target stays in demo mode until the
    first member comes (TrueNAS adds LUNs before initiators)."""
    write(scst, "luns/mgmt", "add d1 0")
    group(scst, "g1")
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 0")
    assert access_mode(scst) == DEMO and IscsiTarget(IQN, fs).luns().keys() == {0}
    assert sees(fs, OUTSIDER) == {0: "d1"}
    write(scst, "ini_groups/g1/initiators/mgmt", f"add {MEMBER}")
    assert access_mode(scst) == ACL_ONLY
    assert devices_seen(fs, OUTSIDER) == {0: "d1"}


def test_group_deleted(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 0")
    assert access_mode(scst) == ACL_ONLY
    write(scst, "ini_groups/mgmt", "del g1")
    assert access_mode(scst) == DEMO
    assert sees(fs, MEMBER) == {0: "d1"}
    assert not IscsiTarget(IQN, fs).acls()


def test_move_between_groups(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    write(scst, "luns/mgmt", "add d2 1")
    group(scst, "g1", MEMBER)
    group(scst, "g2")
    write(scst, "ini_groups/g1/luns/mgmt", "add d1 0")
    write(scst, "ini_groups/g2/luns/mgmt", "add d2 7")
    assert sees(fs, MEMBER) == {0: "d1"}
    write(scst, "ini_groups/g1/initiators/mgmt", f"move {MEMBER} g2")
    assert devices_seen(fs, MEMBER) == {7: "d2"}  # same session, the new group's LUNs
    assert IscsiTarget(IQN, fs).acl_tag(MEMBER) == "g2"


def test_one_initiator_in_two_groups_is_refused(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    group(scst, "g1", MEMBER)
    group(scst, "g2")
    before = snapshot(fs)
    with pytest.raises(OSError) as caught:
        write(scst, "ini_groups/g2/initiators/mgmt", f"add {MEMBER}")
    assert caught.value.errno == errno.EEXIST and "move" in str(caught.value)
    assert snapshot(fs) == before


def test_live_switch_to_acl_only_gives_a_logged_in_outsider_nothing_new(
        scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    assert sees(fs, OUTSIDER) == {0: "d1"}
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 0")  # group-only: demo mode goes
    assert access_mode(scst) == ACL_ONLY
    assert devices_seen(fs, OUTSIDER) == {0: "d1"}  # never the group-only d2
    assert refused(fs, "iqn.2024-01.init:newcomer")
    write(scst, "luns/mgmt", "add d3 1")  # default LUNs added meanwhile are not leaked either
    assert sees(fs, MEMBER) == {0: "d2"}
    write(scst, "ini_groups/g1/luns/mgmt", "del 0")  # back to demo mode
    assert access_mode(scst) == DEMO
    assert sees(fs, "iqn.2024-01.init:newcomer") == {0: "d1", 1: "d3"}


def test_default_device_also_added_to_a_group_switches_back_to_demo(
        scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 3")
    assert access_mode(scst) == ACL_ONLY
    write(scst, "luns/mgmt", "add d2 0")  # now in the default set: the group shares it
    assert access_mode(scst) == DEMO
    assert IscsiTarget(IQN, fs).luns().keys() == {0}
    assert sees(fs, MEMBER) == {3: "d2"}
    assert sees(fs, OUTSIDER) == {0: "d2"}


def test_chap_on_a_masked_target(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    group(scst, "g1", MEMBER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d1 0")
    scst.tree.write("/targets/iscsi/mgmt",
                    f"add_target_attribute {IQN} IncomingUser joe secretsecret12")
    tpg = IscsiTarget(IQN, fs)
    assert tpg.acl_chap(MEMBER).userid == "joe"
    assert refused(fs, OUTSIDER)


def test_a_failed_step_leaves_lio_and_the_tree_unchanged(scst: ScstSystem,
                                                         fs: EmulatedConfigfs,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    write(scst, "luns/mgmt", "add d1 0")
    group(scst, "g1", MEMBER, OUTSIDER)
    write(scst, "ini_groups/g1/luns/mgmt", "add d1 2")
    before, tree_before = snapshot(fs), scst.tree.listdir(f"{TARGET}/ini_groups/g1/luns")
    real_symlink = fs.symlink

    def failing(target, link):  # the second ACL's mapping fails
        if OUTSIDER in str(link):
            raise OSError(errno.ENOMEM, "no memory")
        real_symlink(target, link)

    monkeypatch.setattr(fs, "symlink", failing)
    with pytest.raises(OSError):
        write(scst, "ini_groups/g1/luns/mgmt", "add d2 1")  # group-only: switches modes
    assert snapshot(fs) == before
    assert scst.tree.listdir(f"{TARGET}/ini_groups/g1/luns") == tree_before
    assert access_mode(scst) == DEMO
    monkeypatch.undo()
    write(scst, "ini_groups/g1/luns/mgmt", "add d2 1")  # and the realizer still knows it all
    assert sees(fs, MEMBER) == {1: "d2", 2: "d1"}


# --- scst_local and fcst -------------------------------------------------------------------

def local_disks(fs: EmulatedConfigfs) -> dict[int, str]:
    [wwn] = [name for name in fs.listdir("target/loopback") if name.startswith("naa.")]
    return {number: path.name for number, path in LoopbackExport(wwn, fs).luns().items()
            if path is not None}


def test_scst_local_session_sees_its_group(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    local = "/targets/scst_local/local1"
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    scst.tree.write(f"{local}/luns/mgmt", "add d1 0")
    assert local_disks(fs) == {0: "d1"}
    scst.tree.write(f"{local}/ini_groups/mgmt", "create g")
    scst.tree.write(f"{local}/ini_groups/g/luns/mgmt", "add d2 0")
    assert local_disks(fs) == {0: "d1"}  # s1 is in no group yet
    scst.tree.write(f"{local}/ini_groups/g/initiators/mgmt", "add s1")
    assert local_disks(fs) == {0: "d2"}
    assert scst.tree.read(f"{local}/access_mode").strip() == DEMO


def test_scst_local_failed_group_lun_removal_is_not_forgotten(
        scst: ScstSystem, fs: EmulatedConfigfs, monkeypatch: pytest.MonkeyPatch) -> None:
    local = "/targets/scst_local/local1"
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    scst.tree.write(f"{local}/ini_groups/mgmt", "create g")
    scst.tree.write(f"{local}/ini_groups/g/initiators/mgmt", "add s1")
    scst.tree.write(f"{local}/ini_groups/g/luns/mgmt", "add d2 0")
    before = snapshot(fs)
    real_rmdir = fs.rmdir

    def failing(path):
        if "/lun/lun_0" in str(path):
            raise OSError(errno.EBUSY, "busy")
        real_rmdir(path)

    monkeypatch.setattr(fs, "rmdir", failing)
    with pytest.raises(OSError):
        scst.tree.write(f"{local}/ini_groups/g/luns/mgmt", "del 0")
    assert snapshot(fs) == before
    monkeypatch.undo()
    scst.tree.write(f"{local}/ini_groups/g/luns/mgmt", "del 0")  # works, no traceback
    assert local_disks(fs) == {}


def test_shutdown_with_scst_local_groups_leaves_nothing(scst: ScstSystem,
                                                        fs: EmulatedConfigfs) -> None:
    local = "/targets/scst_local/local1"
    scst.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    scst.tree.write(f"{local}/ini_groups/mgmt", "create g")
    scst.tree.write(f"{local}/ini_groups/g/initiators/mgmt", "add s1")
    scst.tree.write(f"{local}/ini_groups/g/luns/mgmt", "add d2 0")
    scst.realizer.shutdown()  # type: ignore[attr-defined]
    assert not [name for name in fs.listdir("target/loopback") if name.startswith("naa.")]
    assert not [name for name in fs.listdir("target/core") if name.startswith("user_")]


def test_fcst_targets_are_acl_only(scst: ScstSystem, fs: EmulatedConfigfs) -> None:
    realizer = scst.realizer
    realizer.create_target("fcst", "21:00:00:00:00:00:00:01", {})  # type: ignore[attr-defined]
    assert realizer.access_mode("fcst", "21:00:00:00:00:00:00:01") == ACL_ONLY  # type: ignore[attr-defined]
