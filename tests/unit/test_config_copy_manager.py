"""tcmu-scst-admin and SCST's copy manager block (``TARGET_DRIVER copy_manager``), which
every SCST 3.x ``-write_config`` writes: applied as scstadmin applies it on SCST (the
automatic LUNs matched, other numbers added where free, never a failure for them),
written as scstadmin writes it, refused up front where the copy manager would refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config import cli
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import RunningTree
from tcmu_scst.config.scst_conf import ConfigError, parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.daemon.persistence import Persistence
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst

LUNS = "targets/copy_manager/copy_manager_tgt/luns"
DEVICES = """\
HANDLER vdisk_nullio {
\tDEVICE a
\tDEVICE b
\tDEVICE ro {
\t\tread_only 1
\t}
}
"""


def block(*luns: str, attributes: str = "") -> str:
    lines = "".join(f"\t\t{lun}\n" for lun in luns)
    return (f"TARGET_DRIVER copy_manager {{\n{attributes}\tTARGET copy_manager_tgt {{\n"
            f"{lines}\t}}\n}}\n")


def live_luns(tree: MountedScst) -> dict[int, str]:
    return RunningTree(ScstSysfs(tree.root)).luns(LUNS)


def apply(tree: MountedScst, text: str, force: bool = False,
          dry_run: bool = False) -> Applier:
    applier = Applier(ScstSysfs(tree.root), force=force, dry_run=dry_run)
    applier.apply(parse(text))
    return applier


def test_a_saved_block_matches_the_automatic_luns(tree: MountedScst) -> None:
    """What -write_config saved is what the copy manager gives the same devices again."""
    text = DEVICES + block("LUN 0 a", "LUN 1 b", "LUN 2 ro {\n\t\t\tread_only 1\n\t\t}")
    checked = apply(tree, text, dry_run=True)
    assert checked.warnings == [] and all("copy_manager" not in write.path
                                          for write in checked.writes)
    first = apply(tree, text)
    assert first.warnings == [] and first.errors == []
    assert [write.path for write in first.writes] == ["handlers/vdisk_nullio/mgmt"] * 3
    assert live_luns(tree) == {0: "a", 1: "b", 2: "ro"}
    assert apply(tree, text).writes == []  # applied twice: nothing to write


def test_another_number_is_added_as_on_scst(tree: MountedScst) -> None:
    """scstadmin on SCST adds a LUN at a free number (the device then has two) and skips
    one at a number the copy manager gives another device."""
    text = DEVICES + block("LUN 1 a", "LUN 5 b")
    applier = apply(tree, text)
    assert applier.errors == []
    assert live_luns(tree) == {0: "a", 1: "b", 2: "ro", 5: "b"}
    assert applier.warnings == [
        f"{LUNS}/1 is b's (numbered as the device was created), not a's: left as it is; "
        "it reaches a at LUN 0 (-force makes the copy manager's LUNs the file's)"]
    again = apply(tree, text)
    assert again.writes == [] and len(again.warnings) == 1
    forced = apply(tree, text, force=True)
    assert [write.text for write in forced.writes] == ["del 2", "replace a 1", "del 0"]
    assert live_luns(tree) == {1: "a", 5: "b"}


def test_a_read_only_device_is_never_a_failure(tree: MountedScst) -> None:
    """The copy manager takes a read-only device only at its automatic LUN (SCST refuses
    it elsewhere, and scstadmin stops halfway there): a warning, the rest applied."""
    text = DEVICES + block("LUN 7 ro {\n\t\t\tread_only 1\n\t\t}",
                           attributes="\tallow_not_connected_copy 1\n")
    applier = apply(tree, text)
    assert applier.errors == []
    assert [warning for warning in applier.warnings if "add ro 7" in warning] == [
        f"{LUNS}/mgmt: add ro 7: Invalid argument: refused by the copy manager; SCST gives a "
        "read-only device a copy manager LUN only as it is created"]
    sysfs = ScstSysfs(tree.root)
    assert sysfs.attribute("targets/copy_manager/allow_not_connected_copy").value == "1"
    apply(tree, text, force=True)  # its automatic LUN is kept: it would lose its reach
    assert live_luns(tree) == {2: "ro"}


def test_groups_are_refused_before_any_write(tree: MountedScst) -> None:
    text = DEVICES + ("TARGET_DRIVER copy_manager {\n\tTARGET copy_manager_tgt {\n"
                      "\t\tGROUP g {\n\t\t\tLUN 0 a\n\t\t}\n\t}\n}\n")
    with pytest.raises(ConfigError) as caught:
        apply(tree, text)
    assert "no initiator groups" in str(caught.value) and caught.value.line == 10
    assert tree.realizer.calls == []


def test_another_copy_manager_target_does_not_exist(tree: MountedScst) -> None:
    with pytest.raises(ConfigError, match="copy_manager_tgt2 of copy_manager does not exist"):
        apply(tree, "TARGET_DRIVER copy_manager {\n\tTARGET copy_manager_tgt2\n}\n")


def test_a_file_without_the_block_leaves_the_copy_manager_alone(tree: MountedScst) -> None:
    apply(tree, DEVICES)
    applier = apply(tree, DEVICES)
    assert applier.writes == [] and applier.warnings == []
    assert live_luns(tree) == {0: "a", 1: "b", 2: "ro"}


def test_force_without_the_block_removes_the_luns_as_scstadmin(tree: MountedScst) -> None:
    """scstadmin -config -force finds none of the copy manager's LUNs in such a file and
    deletes them before it creates devices: a device the run creates keeps its own."""
    apply(tree, DEVICES)
    applier = apply(tree, DEVICES.replace("\tDEVICE b\n", "\tDEVICE b\n\tDEVICE c\n"),
                    force=True)
    assert [(write.path, write.text) for write in applier.writes] == [
        (f"{LUNS}/mgmt", "del 0"), (f"{LUNS}/mgmt", "del 1"), (f"{LUNS}/mgmt", "del 2"),
        ("handlers/vdisk_nullio/mgmt", "add_device c")]
    assert applier.warnings == [
        f"{LUNS}: the file has no copy_manager block for copy_manager_tgt; -force deletes "
        "its LUNs as scstadmin does, which takes those devices out of EXTENDED COPY's reach "
        "(-write_config writes the block)"]
    assert live_luns(tree) == {3: "c"}


def test_write_config_writes_the_block_as_scstadmin(tree: MountedScst, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    apply(tree, DEVICES)
    saved = tmp_path / "saved.conf"
    assert cli.main(["-write_config", str(saved), "--root", str(tree.root)]) == 0
    text = saved.read_text()
    assert ("TARGET_DRIVER copy_manager {\n"
            "\tTARGET copy_manager_tgt {\n"
            "\t\tLUN 0 a\n"
            "\t\tLUN 1 b\n"
            "\t\tLUN 2 ro {\n"
            "\t\t\tread_only 1\n"
            "\t\t}\n"
            "\t}\n"
            "}\n") in text
    assert "HW_TARGET" not in text
    capsys.readouterr()
    assert cli.main(["-check_config", str(saved), "--root", str(tree.root)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "0 change(s) would be made" in captured.out
    assert cli.main(["-clear_config", "-force", "-noprompt", "--root", str(tree.root)]) == 0
    assert cli.main(["-write_config", str(saved), "--root", str(tree.root)]) == 0
    # nothing left but the copy manager's target, as scstadmin writes an empty one
    assert "TARGET_DRIVER copy_manager {\n\tTARGET copy_manager_tgt\n}\n" in saved.read_text()


def test_the_daemon_restores_a_block_its_counter_has_moved_past(tmp_path: Path) -> None:
    """Saved after a device was deleted (the others at LUNs 1 and 2), restored by a new
    daemon whose counter starts at 0 again: every device is in reach, nothing failed."""
    saved = tmp_path / "scst.conf"
    first = ScstSystem(RecordingRealizer())
    for name in ("a", "b", "c"):
        first.tree.write("/handlers/vdisk_nullio/mgmt", f"add_device {name}")
    first.tree.write("/handlers/vdisk_nullio/mgmt", "del_device a")
    Persistence(first.tree, str(saved)).save()
    assert "\t\tLUN 1 b\n\t\tLUN 2 c\n" in saved.read_text()
    fresh = ScstSystem(RecordingRealizer())
    assert Persistence(fresh.tree, str(saved)).restore()
    sysfs = ScstSysfs("/", access=InProcessAccess(fresh.tree))
    assert RunningTree(sysfs).luns(LUNS) == {0: "b", 1: "c", 2: "c"}  # as SCST would
