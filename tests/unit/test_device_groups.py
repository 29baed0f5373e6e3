"""``device_groups/`` over a recording realizer: SCST's tree, modes, ``[key]`` marks and
errnos (scst_sysfs.md section 6; scst_tg.c, scst_sysfs.c), the exact ALUA layout the
realizer is given after each kind of change, and refusals that leave the tree unchanged."""

from __future__ import annotations

import errno
import stat

import pytest

from tcmu_scst.compat_sysfs.nodes import Attribute, Directory, Link
from tcmu_scst.compat_sysfs.realizer import AluaLayout, AluaPort, AluaTargetGroup
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.sysfs import MgmtHelp, ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .test_config_apply import snapshot

A, B = "iqn.2024-01.test:a", "iqn.2024-01.test:b"
DG = "/device_groups/dg1"
TG = f"{DG}/target_groups/tg1"


class Realizer(RecordingRealizer):
    """Refuses set_alua for the devices in ``refused`` (EIO), the others it records."""

    refused: set[str]

    def set_alua(self, device: str, layout: AluaLayout | None) -> None:
        if device in getattr(self, "refused", set()):
            raise OSError(errno.EIO, f"refused for {device}")
        super().set_alua(device, layout)


@pytest.fixture
def realizer() -> Realizer:
    return Realizer()


@pytest.fixture
def system(realizer: Realizer) -> ScstSystem:
    system = ScstSystem(realizer)
    for device in ("n1", "n2", "n3"):
        system.tree.write("/handlers/vdisk_nullio/mgmt", f"add_device {device}")
    for target in (A, B):
        system.tree.write("/targets/iscsi/mgmt", f"add_target {target}")
    return system


def write(system: ScstSystem, path: str, text: str) -> None:
    system.tree.write(path, text)


def fails(system: ScstSystem, path: str, text: str, code: int) -> None:
    with pytest.raises(OSError) as caught:
        system.tree.write(path, text)
    assert caught.value.errno == code, (path, text, caught.value)
    assert system.tree.read("/last_sysfs_mgmt_res") == f"-{code}\n"


def alua(realizer: RecordingRealizer) -> list[tuple]:
    """The set_alua calls since the last look (and forget them)."""
    found = [arguments for operation, arguments in realizer.calls if operation == "set_alua"]
    realizer.calls.clear()
    return found


def tree_state(system: ScstSystem) -> dict[str, str]:
    found = snapshot(ScstSysfs("/", access=InProcessAccess(system.tree)))
    found.pop("last_sysfs_mgmt_res")
    return found


def build(system: ScstSystem) -> None:
    """dg1 with n1 and n2; tg1 (A, local, and remote1), tg2 (B)."""
    write(system, "/device_groups/mgmt", "create dg1")
    write(system, f"{DG}/devices/mgmt", "add n1")
    write(system, f"{DG}/devices/mgmt", "add n2")
    write(system, f"{DG}/target_groups/mgmt", "create tg1")
    write(system, f"{DG}/target_groups/mgmt", "add tg2")  # SCST's add creates too
    write(system, f"{TG}/mgmt", f"add {A}")
    write(system, f"{TG}/mgmt", "add remote1")
    write(system, f"{DG}/target_groups/tg2/mgmt", f"add {B}")


def test_tree_modes_and_key_marks(system: ScstSystem) -> None:
    build(system)
    tree = system.tree
    assert tree.listdir("/device_groups") == ["dg1", "mgmt"]
    assert tree.listdir(DG) == ["devices", "target_groups"]
    assert tree.listdir(f"{DG}/devices") == ["mgmt", "n1", "n2"]
    assert tree.listdir(f"{DG}/target_groups") == ["mgmt", "tg1", "tg2"]
    assert tree.listdir(TG) == ["group_id", A, "mgmt", "preferred", "remote1", "state"]
    assert tree.listdir(f"{TG}/remote1") == ["rel_tgt_id"]
    device = tree.lookup(f"{DG}/devices/n1")
    local = tree.lookup(f"{TG}/{A}")
    assert isinstance(device, Link) and device.target == "../../../devices/n1"
    assert isinstance(local, Link) and local.target == f"../../../../targets/iscsi/{A}"
    assert isinstance(tree.lookup(f"{TG}/remote1"), Directory)
    for path in ("/device_groups/mgmt", f"{DG}/devices/mgmt", f"{DG}/target_groups/mgmt",
                 f"{TG}/mgmt", f"{TG}/group_id", f"{TG}/preferred", f"{TG}/state",
                 f"{TG}/remote1/rel_tgt_id"):
        node = tree.lookup(path)
        assert isinstance(node, Attribute) and stat.S_IMODE(node.mode) == 0o644, path
    # defaults: group_id 0 and state always [key], preferred only when 1, remote id always
    assert tree.read(f"{TG}/group_id") == "0\n[key]\n"
    assert tree.read(f"{TG}/state") == "active\n[key]\n"
    assert tree.read(f"{TG}/preferred") == "0\n"
    assert tree.read(f"{TG}/remote1/rel_tgt_id") == "0\n[key]\n"
    write(system, f"{TG}/group_id", "0x10\n")
    write(system, f"{TG}/preferred", "1\n")
    write(system, f"{TG}/state", "transitioning\n")
    write(system, f"{TG}/remote1/rel_tgt_id", "65535")
    assert tree.read(f"{TG}/group_id") == "16\n[key]\n"
    assert tree.read(f"{TG}/preferred") == "1\n[key]\n"
    assert tree.read(f"{TG}/state") == "transitioning\n[key]\n"
    assert tree.read(f"{TG}/remote1/rel_tgt_id") == "65535\n[key]\n"


def test_help_texts_offer_scsts_verbs(system: ScstSystem) -> None:
    build(system)
    verbs = {path: MgmtHelp.parse(system.tree.read(path)).commands for path in (
        "/device_groups/mgmt", f"{DG}/devices/mgmt", f"{DG}/target_groups/mgmt", f"{TG}/mgmt")}
    assert [(command.verb, len(command.arguments)) for command in
            verbs["/device_groups/mgmt"]] == [("create", 1), ("del", 1)]
    assert [command.verb for command in verbs[f"{DG}/target_groups/mgmt"]] == ["create", "del"]
    assert [command.verb for command in verbs[f"{DG}/devices/mgmt"]] == ["add", "del"]
    assert [command.verb for command in verbs[f"{TG}/mgmt"]] == ["add", "del"]


@pytest.mark.parametrize(("path", "text", "code"), [
    ("/device_groups/mgmt", "create dg1", errno.EEXIST),
    ("/device_groups/mgmt", "del nothing", errno.EINVAL),
    ("/device_groups/mgmt", "frob dg9", errno.EINVAL),
    ("/device_groups/mgmt", "create", errno.EINVAL),
    ("/device_groups/mgmt", "create dg8 dg9", errno.EINVAL),
    ("/device_groups/mgmt", "create mgmt", errno.EINVAL),
    (f"{DG}/devices/mgmt", "add n1", errno.EEXIST),
    (f"{DG}/devices/mgmt", "add nothing", errno.EINVAL),
    (f"{DG}/devices/mgmt", "del n3", errno.EINVAL),
    ("/device_groups/dg2/devices/mgmt", "add n1", errno.EEXIST),  # one device group each
    (f"{DG}/target_groups/mgmt", "create tg1", errno.EEXIST),
    (f"{DG}/target_groups/mgmt", "del nothing", errno.EINVAL),
    (f"{DG}/target_groups/mgmt", "create mgmt", errno.EINVAL),
    (f"{TG}/mgmt", f"add {A}", errno.EEXIST),
    (f"{DG}/target_groups/tg2/mgmt", f"add {A}", errno.EEXIST),  # one target group each
    (f"{TG}/mgmt", "add remote1", errno.EEXIST),
    (f"{TG}/mgmt", f"del {B}", errno.EINVAL),  # in tg2, not here
    (f"{TG}/mgmt", "add state", errno.EINVAL),  # would hide the file
    (f"{TG}/mgmt", "remove remote1", errno.EINVAL),
    (f"{TG}/group_id", "0", errno.EINVAL),
    (f"{TG}/group_id", "65536", errno.EINVAL),
    (f"{TG}/group_id", "one", errno.EINVAL),
    (f"{TG}/preferred", "2", errno.EINVAL),
    (f"{TG}/state", "Active", errno.EINVAL),  # compared exactly, as SCST does
    (f"{TG}/state", "optimized", errno.EINVAL),
    (f"{TG}/remote1/rel_tgt_id", "0", errno.EINVAL),
    (f"{TG}/remote1/rel_tgt_id", "70000", errno.EINVAL),
])
def test_refusals(system: ScstSystem, realizer: Realizer, path: str, text: str,
                  code: int) -> None:
    build(system)
    write(system, "/device_groups/mgmt", "create dg2")
    before = tree_state(system)
    alua(realizer)
    fails(system, path, text, code)
    assert tree_state(system) == before
    assert alua(realizer) == []


def test_a_target_may_be_in_target_groups_of_two_device_groups(system: ScstSystem) -> None:
    build(system)
    write(system, "/device_groups/mgmt", "create dg2")
    write(system, "/device_groups/dg2/target_groups/mgmt", "create tg1")
    write(system, "/device_groups/dg2/target_groups/tg1/mgmt", f"add {A}")
    assert isinstance(system.tree.lookup(f"/device_groups/dg2/target_groups/tg1/{A}"), Link)


def group(name: str, *ports: AluaPort, group_id: int = 0, state: str = "active",
          preferred: bool = False) -> AluaTargetGroup:
    return AluaTargetGroup(name, group_id, state, preferred, ports)


def test_each_change_sends_the_layout_of_every_device(system: ScstSystem,
                                                      realizer: Realizer) -> None:
    write(system, "/device_groups/mgmt", "create dg1")
    write(system, f"{DG}/target_groups/mgmt", "create tg1")
    assert alua(realizer) == []  # no device yet: nothing to realise
    write(system, f"{DG}/devices/mgmt", "add n1")
    assert alua(realizer) == [("n1", AluaLayout("dg1", (group("tg1"),)))]
    write(system, f"{DG}/devices/mgmt", "add n2")
    assert alua(realizer) == [("n2", AluaLayout("dg1", (group("tg1"),)))]

    def both(*groups: AluaTargetGroup) -> list[tuple]:
        return [(device, AluaLayout("dg1", groups)) for device in ("n1", "n2")]

    local_a, remote = AluaPort(A, 0, "iscsi"), AluaPort("remote1", 0)
    write(system, f"{TG}/mgmt", f"add {A}")
    assert alua(realizer) == both(group("tg1", local_a))
    write(system, f"{TG}/mgmt", "add remote1")
    assert alua(realizer) == both(group("tg1", local_a, remote))
    write(system, f"{TG}/remote1/rel_tgt_id", "7")
    remote = AluaPort("remote1", 7)
    assert alua(realizer) == both(group("tg1", local_a, remote))
    write(system, f"{TG}/group_id", "3")
    assert alua(realizer) == both(group("tg1", local_a, remote, group_id=3))
    write(system, f"{TG}/preferred", "1")
    assert alua(realizer) == both(group("tg1", local_a, remote, group_id=3, preferred=True))
    write(system, f"{TG}/state", "standby")
    tg1 = group("tg1", local_a, remote, group_id=3, preferred=True, state="standby")
    assert alua(realizer) == both(tg1)
    write(system, f"{TG}/state", "standby")  # no change: nothing sent
    assert alua(realizer) == []
    write(system, f"{DG}/target_groups/mgmt", "create tg2")
    assert alua(realizer) == both(tg1, group("tg2"))
    write(system, f"{DG}/target_groups/tg2/mgmt", f"add {B}")
    tg2 = group("tg2", AluaPort(B, 0, "iscsi"))
    assert alua(realizer) == both(tg1, tg2)
    write(system, f"{TG}/mgmt", "del remote1")
    tg1 = group("tg1", local_a, group_id=3, preferred=True, state="standby")
    assert alua(realizer) == both(tg1, tg2)
    write(system, f"{DG}/target_groups/mgmt", "del tg1")
    assert alua(realizer) == both(tg2)
    write(system, f"{DG}/devices/mgmt", "del n1")
    assert alua(realizer) == [("n1", None)]
    write(system, "/device_groups/mgmt", "del dg1")
    assert alua(realizer) == [("n2", None)]
    assert system.tree.listdir("/device_groups") == ["mgmt"]


def test_member_targets_and_devices_changed_elsewhere(system: ScstSystem,
                                                      realizer: Realizer) -> None:
    build(system)
    alua(realizer)
    remote = AluaPort("remote1", 0)

    def layouts(a_id: int, b_id: int | None = 0, devices: tuple[str, ...] = ("n1", "n2")
                ) -> list[tuple]:
        tg2 = group("tg2", AluaPort(B, b_id, "iscsi")) if b_id is not None else group("tg2")
        return [(device, AluaLayout("dg1", (group("tg1", AluaPort(A, a_id, "iscsi"), remote),
                                            tg2))) for device in devices]

    write(system, f"/targets/iscsi/{A}/rel_tgt_id", "5")
    assert alua(realizer) == layouts(5)
    write(system, f"/targets/iscsi/{A}/rel_tgt_id", "5")  # the same id: nothing to send
    assert alua(realizer) == []
    write(system, f"/targets/iscsi/{B}/enabled", "1")  # its first enable assigns an id
    assert system.tree.read(f"/targets/iscsi/{B}/rel_tgt_id") == "1\n[key]\n"
    assert alua(realizer) == layouts(5, 1)
    write(system, "/targets/iscsi/mgmt", f"del_target {B}")  # SCST drops it from its group
    calls = realizer.calls[:]
    assert alua(realizer) == layouts(5, None)
    # out of its groups first, then gone (the driver is disabled: no enable_target)
    assert [operation for operation, _ in calls] == ["set_alua", "set_alua", "delete_target"]
    assert system.tree.listdir(f"{DG}/target_groups/tg2") == ["group_id", "mgmt", "preferred",
                                                              "state"]
    write(system, "/handlers/vdisk_nullio/mgmt", "del_device n1")  # it leaves its group
    assert alua(realizer) == [("n1", None)]
    assert system.tree.listdir(f"{DG}/devices") == ["mgmt", "n2"]
    write(system, "/targets/iscsi/mgmt", f"add_target {B}")  # a new B is no member
    assert alua(realizer) == []
    assert system.tree.listdir(f"{DG}/target_groups/tg2") == ["group_id", "mgmt", "preferred",
                                                              "state"]


def test_a_remote_name_stays_remote_when_such_a_target_appears(system: ScstSystem) -> None:
    """SCST binds a member to a local target when it is added, never later."""
    build(system)
    write(system, "/targets/iscsi/mgmt", "add_target remote1")
    assert isinstance(system.tree.lookup(f"{TG}/remote1"), Directory)


def test_local_members_of_every_driver(realizer: Realizer) -> None:
    realizer.ports = ["21:00:00:00:00:00:00:01"]
    system = ScstSystem(realizer)
    write(system, "/handlers/vdisk_nullio/mgmt", "add_device n1")
    write(system, "/targets/scst_local/mgmt", "add_target local1")
    write(system, "/device_groups/mgmt", "create dg1")
    write(system, f"{DG}/devices/mgmt", "add n1")
    write(system, f"{DG}/target_groups/mgmt", "create tg1")
    write(system, f"{TG}/mgmt", "add local1")
    write(system, f"{TG}/mgmt", "add 21:00:00:00:00:00:00:01")
    assert alua(realizer)[-1] == ("n1", AluaLayout("dg1", (group(
        "tg1", AluaPort("local1", 0, "scst_local"),
        AluaPort("21:00:00:00:00:00:00:01", 0, "fcst")),)))
    link = system.tree.lookup(f"{TG}/21:00:00:00:00:00:00:01")
    assert isinstance(link, Link) and link.target.endswith("/targets/fcst/21:00:00:00:00:00:00:01")


@pytest.mark.parametrize(("path", "text"), [
    (f"{DG}/devices/mgmt", "add n3"),
    (f"{DG}/devices/mgmt", "del n2"),
    (f"{DG}/target_groups/mgmt", "create tg3"),
    (f"{DG}/target_groups/mgmt", "del tg2"),
    (f"{TG}/mgmt", "add remote2"),
    (f"{TG}/mgmt", f"del {A}"),
    (f"{TG}/group_id", "9"),
    (f"{TG}/preferred", "1"),
    (f"{TG}/state", "unavailable"),
    (f"{TG}/remote1/rel_tgt_id", "9"),
    ("/device_groups/mgmt", "del dg1"),
    (f"/targets/iscsi/{A}/rel_tgt_id", "9"),
    (f"/targets/iscsi/{A}/enabled", "1"),
    ("/targets/iscsi/mgmt", f"del_target {A}"),
    ("/handlers/vdisk_nullio/mgmt", "del_device n2"),
])
def test_a_refused_layout_leaves_the_tree_and_lio_as_they_were(
        system: ScstSystem, realizer: Realizer, path: str, text: str) -> None:
    """n1 takes its new layout, n2's (or n3's) is refused: n1 gets its old one back, the
    command fails with the realizer's errno and the tree is unchanged."""
    build(system)
    write(system, f"/targets/iscsi/{A}/luns/mgmt", "add n2 0")
    before = tree_state(system)
    layouts = dict(alua(realizer))
    realizer.refused = {"n2", "n3"}
    fails(system, path, text, errno.EIO)
    assert tree_state(system) == before
    sent = alua(realizer)
    if sent:  # n1 was changed before n2 refused: it has its old layout again
        assert sent[0][0] == "n1" and sent[-1] == ("n1", layouts["n1"])
    assert not any(operation in ("delete_target", "delete_device", "remove_lun",
                                 "enable_target") for operation, _ in realizer.calls)
