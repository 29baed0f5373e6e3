"""SCST's copy manager in our tree (targets/copy_manager): what it shows, the LUN every
device gets and loses with it, what its luns/mgmt refuses, and the reach it hands to the
realizer (in the daemon: the workers' reach directory, no LIO object)."""

from __future__ import annotations

import errno
import json
import stat
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.help_text import INI_GROUPS_USAGE, LUNS_USAGE
from tcmu_scst.compat_sysfs.nodes import Attribute, Directory, Link
from tcmu_scst.compat_sysfs.realizer import CopyReach
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import emulated_lio
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .test_daemon_realizer import FakeSupervisor

CM = "/targets/copy_manager"
TGT = f"{CM}/copy_manager_tgt"
IQN = "iqn.2024-01.test:cm"


@pytest.fixture
def realizer() -> RecordingRealizer:
    return RecordingRealizer()


@pytest.fixture
def scst(realizer: RecordingRealizer) -> ScstSystem:
    return ScstSystem(realizer)


def nullio(scst: ScstSystem, *names: str, params: str = "") -> None:
    for name in names:
        scst.tree.write("/handlers/vdisk_nullio/mgmt", f"add_device {name} {params}".strip())


def luns(scst: ScstSystem) -> dict[int, str]:
    tree = scst.tree
    found = {}
    for name in tree.listdir(f"{TGT}/luns"):
        if name != "mgmt":
            link = tree.lookup(f"{TGT}/luns/{name}/device")
            assert isinstance(link, Link)
            found[int(name)] = link.target.rsplit("/", 1)[1]
    return found


def refused(scst: ScstSystem, path: str, text: str, code: int, words: str) -> None:
    with pytest.raises(OSError) as caught:
        scst.tree.write(path, text)
    assert caught.value.errno == code and words in str(caught.value), caught.value


def mode(scst: ScstSystem, path: str) -> int:
    return stat.S_IMODE(scst.tree.lookup(path).mode)


def test_the_driver_is_always_there_as_scst_shows_it(scst: ScstSystem) -> None:
    tree = scst.tree
    assert "copy_manager" in tree.listdir("/targets")
    # no mgmt (SCST makes one only for drivers that add targets), no enabled, no trace_level
    assert tree.listdir(CM) == ["allow_not_connected_copy", "copy_manager_tgt"]
    assert tree.listdir(TGT) == ["ini_groups", "luns", "rel_tgt_id", "sessions"]
    assert tree.read(f"{TGT}/luns/mgmt") == LUNS_USAGE
    assert tree.read(f"{TGT}/ini_groups/mgmt") == INI_GROUPS_USAGE
    assert tree.listdir(f"{TGT}/sessions") == ["copy_manager_sess"]
    session = f"{TGT}/sessions/copy_manager_sess"
    assert tree.read(f"{session}/initiator_name") == "copy_manager_sess\n"
    assert tree.lookup(f"{session}/luns") == Link("../../luns")
    assert (mode(scst, f"{CM}/allow_not_connected_copy"), mode(scst, f"{TGT}/rel_tgt_id"),
            mode(scst, f"{TGT}/luns/mgmt"), mode(scst, f"{session}/initiator_name")) == \
        (0o644, 0o644, 0o644, 0o444)


def test_allow_not_connected_copy(scst: ScstSystem, realizer: RecordingRealizer) -> None:
    path = f"{CM}/allow_not_connected_copy"
    assert scst.tree.read(path) == "0\n"
    scst.tree.write(path, "0x10")  # any non-zero number: kept as 1 (SCST's bool)
    assert scst.tree.read(path) == "1\n[key]\n"
    assert realizer.calls[-1] == ("set_driver_attribute",
                                  ("copy_manager", "allow_not_connected_copy", "1"))
    scst.tree.write(path, "0")
    assert scst.tree.read(path) == "0\n"
    refused(scst, path, "yes", errno.EINVAL, "not a number")
    refused(scst, path, "-1", errno.EINVAL, "0 or 1")


def test_every_new_device_gets_the_next_lun_of_scsts_counter(scst: ScstSystem) -> None:
    nullio(scst, "a", "b", "c")
    assert luns(scst) == {0: "a", 1: "b", 2: "c"}
    assert scst.tree.lookup("/devices/b/exported/export0") == Link(
        "../../../targets/copy_manager/copy_manager_tgt/luns/1")
    scst.tree.write("/handlers/vdisk_nullio/mgmt", "del_device a")  # its LUN goes with it
    assert luns(scst) == {1: "b", 2: "c"}
    nullio(scst, "d")  # the counter goes on: not the lowest free number
    assert luns(scst) == {1: "b", 2: "c", 3: "d"}
    scst.tree.write(f"{TGT}/luns/mgmt", "add b 4")  # taken by hand: skipped by the counter
    nullio(scst, "e")
    assert luns(scst) == {1: "b", 2: "c", 3: "d", 4: "b", 5: "e"}


def test_the_counter_wraps_below_scst_max_lun(scst: ScstSystem) -> None:
    scst.copy_manager.next_lun = 16382
    nullio(scst, "a", "b")
    assert luns(scst) == {16382: "a", 0: "b"}


def test_read_only_devices_only_by_the_automatic_lun(scst: ScstSystem, tmp_path: Path) -> None:
    nullio(scst, "ro", params="read_only=1")
    nullio(scst, "rw")
    assert luns(scst) == {0: "ro", 1: "rw"}
    assert scst.tree.read(f"{TGT}/luns/0/read_only") == "1\n[key]\n"
    mgmt = f"{TGT}/luns/mgmt"
    refused(scst, mgmt, "add ro 5", errno.EINVAL, "read-only")
    refused(scst, mgmt, "add rw 5 read_only=1", errno.EINVAL, "read-only")
    refused(scst, mgmt, "replace ro 1", errno.EINVAL, "read-only")
    assert luns(scst) == {0: "ro", 1: "rw"}  # refused before anything changed
    scst.tree.write("/handlers/vcdrom/mgmt", "add_device cd")
    assert luns(scst)[2] == "cd"
    refused(scst, mgmt, "add cd 7", errno.EINVAL, "read-only")


def test_luns_mgmt_as_for_any_target(scst: ScstSystem) -> None:
    nullio(scst, "a", "b")
    mgmt = f"{TGT}/luns/mgmt"
    refused(scst, mgmt, "add b 0", errno.EEXIST, "already exists")
    refused(scst, mgmt, "add nobody 7", errno.EINVAL, "not found")
    scst.tree.write(mgmt, "replace b 0")
    assert luns(scst) == {0: "b", 1: "b"}
    scst.tree.write(mgmt, "del 1")
    assert luns(scst) == {0: "b"}
    assert scst.tree.listdir("/devices/a/exported") == []
    scst.tree.write(mgmt, "clear")
    assert luns(scst) == {}


def test_no_initiator_groups(scst: ScstSystem) -> None:
    refused(scst, f"{TGT}/ini_groups/mgmt", "create g", errno.EINVAL, "no initiator groups")
    refused(scst, f"{TGT}/ini_groups/mgmt", "del g", errno.EINVAL, "not found")
    refused(scst, f"{TGT}/ini_groups/mgmt", "frob g", errno.EINVAL, "Unknown action")
    assert scst.tree.listdir(f"{TGT}/ini_groups") == ["mgmt"]


def test_rel_tgt_id(scst: ScstSystem) -> None:
    """No enable switch: SCST counts the copy manager's target as enabled, so 0 is refused
    and its number is taken like any enabled target's."""
    path = f"{TGT}/rel_tgt_id"
    assert scst.tree.read(path) == "0\n"
    refused(scst, path, "0", errno.EINVAL, "1..65535")
    scst.tree.write(path, "1")
    assert scst.tree.read(path) == "1\n[key]\n"
    scst.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}")
    refused(scst, f"/targets/iscsi/{IQN}/rel_tgt_id", "1", errno.EBADSLT, "used by")


def test_the_copy_managers_luns_reach_no_lio_target(scst: ScstSystem,
                                                    realizer: RecordingRealizer) -> None:
    nullio(scst, "a")
    scst.tree.write(f"{TGT}/luns/mgmt", "add a 9")
    scst.tree.write(f"{TGT}/luns/mgmt", "clear")
    assert [operation for operation, _ in realizer.calls] == ["create_device"]


def test_the_reach_follows_luns_groups_and_initiators(scst: ScstSystem,
                                                      realizer: RecordingRealizer) -> None:
    write = scst.tree.write
    nullio(scst, "a", "b")
    assert realizer.copy_reach["a"] == CopyReach(True, frozenset())  # reached by nobody
    write("/targets/iscsi/mgmt", f"add_target {IQN}")
    target = f"/targets/iscsi/{IQN}"
    write(f"{target}/luns/mgmt", "add a 0")
    assert realizer.copy_reach["a"] == CopyReach(True, None)  # the target's own set: anyone
    write(f"{target}/ini_groups/mgmt", "create g")
    write(f"{target}/ini_groups/g/luns/mgmt", "add b 0")
    write(f"{target}/ini_groups/g/initiators/mgmt", "add iqn.X:host1")
    assert realizer.copy_reach["b"] == CopyReach(True, frozenset({"iqn.x:host1"}))
    write(f"{target}/ini_groups/mgmt", "create h")
    write(f"{target}/ini_groups/g/initiators/mgmt", "move iqn.X:host1 h")
    assert realizer.copy_reach["b"] == CopyReach(True, frozenset())
    write(f"{TGT}/luns/mgmt", "del 1")
    assert realizer.copy_reach["b"] == CopyReach(False, frozenset())
    write(f"{target}/ini_groups/g/initiators/mgmt", "add iqn.x:host2")
    write("/targets/iscsi/mgmt", f"del_target {IQN}")
    assert realizer.copy_reach["a"] == CopyReach(True, frozenset())
    assert realizer.copy_reach["b"] == CopyReach(False, frozenset())
    write("/handlers/vdisk_nullio/mgmt", "del_device a")
    assert "a" not in realizer.copy_reach
    nullio(scst, "a")  # a new device of that name is told its reach afresh
    assert realizer.copy_reach["a"] == CopyReach(True, frozenset())


def test_the_daemon_realises_the_reach_as_files_not_lio(tmp_path: Path) -> None:
    fs = emulated_lio()
    directory = tmp_path / "reach"
    system = ScstSystem(LioRealizer(configfs=fs, supervisor=FakeSupervisor(),  # type: ignore[arg-type]
                                    copy_reach=directory))
    write = system.tree.write
    before = snapshot(fs, "target")
    write("/handlers/vdisk_nullio/mgmt", "add_device n1")
    entry = json.loads((directory / "devices" / "n1.json").read_text())
    assert entry["copy_manager"] is True and entry["initiators"] == []
    assert entry["handler"] == "vdisk_nullio"
    links = {path.name: path.readlink().name for path in (directory / "designators").iterdir()}
    assert sorted(links.values()) == ["n1", "n1"]  # T10 vendor and EUI-64 designators
    after = snapshot(fs, "target")
    assert [key for key in after if key not in before and "copy_manager" in key] == []
    write(f"{CM}/allow_not_connected_copy", "1")
    assert (directory / "allow_not_connected_copy").read_text() == "1\n"
    write("/devices/n1/t10_dev_id", "moved-0001")
    entry = json.loads((directory / "devices" / "n1.json").read_text())
    assert entry["params"]["t10_dev_id"] == "moved-0001"
    assert any(name.startswith("2." + b"moved-00".hex()) for name in
               (path.name for path in (directory / "designators").iterdir()))
    write("/handlers/vdisk_nullio/mgmt", "del_device n1")
    assert list((directory / "devices").iterdir()) == []
    assert list((directory / "designators").iterdir()) == []


def test_files_are_only_what_scst_has(scst: ScstSystem) -> None:
    """Every file below targets/copy_manager is one the reference names (modes above)."""
    nullio(scst, "a")
    files = set()

    def walk(path: str) -> None:
        node = scst.tree.lookup(path)
        assert isinstance(node, Directory)
        for name, child in node.entries().items():
            if isinstance(child, Attribute):
                files.add(name)
            elif isinstance(child, Directory):
                walk(f"{path}/{name}")

    walk(CM)
    assert files == {"allow_not_connected_copy", "rel_tgt_id", "mgmt", "read_only",
                     "initiator_name"}
