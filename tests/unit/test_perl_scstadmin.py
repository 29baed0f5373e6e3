"""SCST's Perl scstadmin, unchanged, on our tree (issue 20): it reads the whole tree before
any command, ``device_groups/`` included, so without that directory every command failed
("deviceGroups(): Unable to read directory"); its ALUA verbs work on our device groups, and
its ``-config``/``-write_config`` and ours give the same tree and the same file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import AluaLayout, AluaPort, AluaTargetGroup
from tcmu_scst.config import cli
from tcmu_scst.config.scst_conf import parse, parse_file
from tcmu_scst.config.sysfs import ScstSysfs

from .perl_equivalence import without_header
from .perl_scstadmin import perl_unavailable, scstadmin
from .scst_mount import MountedScst, fuse_unavailable, mounted_scst
from .test_config_apply import DATA, snapshot
from .tree_snapshot import difference
from .tree_snapshot import snapshot as tree_snapshot

pytestmark = pytest.mark.skipif(perl_unavailable() is not None,
                                reason=str(perl_unavailable()))
A = "iqn.2024-01.test:a"


def test_list_handler(tree: MountedScst) -> None:
    result = scstadmin(tree.root, "-list_handler")
    assert result.status == 0, result.output
    for handler in ("vcdrom", "vdisk_blockio", "vdisk_fileio", "vdisk_nullio"):
        assert f"\t{handler}\n" in result.output


def test_list_device_and_write_config(tree: MountedScst, tmp_path: Path) -> None:
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("add_device n1 size_mb=16\n")
    listing = scstadmin(tree.root, "-list_device")
    assert listing.status == 0 and "vdisk_nullio     n1" in listing.output, listing.output
    saved = tmp_path / "perl.conf"
    result = scstadmin(tree.root, "-write_config", str(saved))
    assert result.status == 0, result.output
    config = parse_file(str(saved))  # our parser reads what SCST's writer wrote
    assert "n1" in config.handlers["vdisk_nullio"].devices


# --- ALUA: device_groups/ ----------------------------------------------------------------

def perl(tree: MountedScst, *arguments: str) -> str:
    result = scstadmin(tree.root, *arguments, "-noprompt")
    assert result.status == 0, result.output
    return result.output


def test_perl_alua_verbs(tree: MountedScst) -> None:
    """Every ALUA verb of scstadmin's manual, each with the tree's answer."""
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("add_device n1\n")
    (tree.root / "targets/iscsi/mgmt").write_text(f"add_target {A}\n")
    group, target_group = ["-dev_group", "dg1"], ["-dev_group", "dg1", "-tgt_group", "tg1"]
    perl(tree, "-add_dgrp", "dg1")
    perl(tree, "-add_dgrp_dev", "n1", *group)
    perl(tree, "-add_tgrp", "tg1", *group)
    perl(tree, "-add_tgrp_tgt", A, *target_group)
    perl(tree, "-add_tgrp_tgt", "remote1", *target_group)
    perl(tree, "-set_tgrp_attr", "tg1", *group,
         "-attributes", "group_id=3,preferred=1,state=standby")
    perl(tree, "-set_ttgt_attr", "remote1", *target_group, "-attributes", "rel_tgt_id=4")
    perl(tree, "-set_ttgt_attr", A, *target_group, "-attributes", "rel_tgt_id=6")  # the target's
    assert (tree.root / f"targets/iscsi/{A}/rel_tgt_id").read_text() == "6\n[key]\n"
    base = tree.root / "device_groups/dg1/target_groups/tg1"
    assert os.readlink(base / A) == f"../../../../targets/iscsi/{A}"
    assert (base / "remote1/rel_tgt_id").read_text() == "4\n[key]\n"
    layouts = [arguments for operation, arguments in tree.realizer.calls
               if operation == "set_alua"]
    assert layouts[-1] == ("n1", AluaLayout("dg1", (AluaTargetGroup(
        "tg1", 3, "standby", True, (AluaPort(A, 6, "iscsi"), AluaPort("remote1", 4))),)))

    assert "\tdg1\n" in perl(tree, "-list_dgrp")
    listed = perl(tree, "-list_dgrp", "dg1")
    assert "\tn1\n" in listed and "\ttg1\n" in listed
    assert "\ttg1\n" in perl(tree, "-list_tgrp", *group)
    listed = perl(tree, "-list_tgrp", "tg1", *group)
    assert f"\t{A}\n" in listed and "\tremote1\n" in listed
    rows = perl(tree, "-list_tgrp_attr", "tg1", *group)
    for name, value in (("group_id", "3"), ("preferred", "1"), ("state", "standby")):
        assert re.search(rf"\t{name}\s+{value}\s+Yes\s+Yes\n", rows), rows
    assert re.search(r"\trel_tgt_id\s+4\s+Yes\s+Yes\n",
                     perl(tree, "-list_ttgt_attr", "remote1", *target_group))

    refused = scstadmin(tree.root, "-add_dgrp_dev", "n1", "-dev_group", "dg1", "-noprompt")
    assert refused.status != 0 and "Device already exists within device group" in (
        refused.output)
    perl(tree, "-rem_tgrp_tgt", "remote1", *target_group)
    perl(tree, "-rem_dgrp_dev", "n1", *group, "-force")
    assert tree.realizer.calls[-1] == ("set_alua", ("n1", None))
    perl(tree, "-rem_tgrp", "tg1", *group, "-force")
    perl(tree, "-rem_dgrp", "dg1", "-force")
    assert sorted(path.name for path in (tree.root / "device_groups").iterdir()) == ["mgmt"]


ALUA_CONF = DATA / "scst_conf" / "06_alua.conf"
ALUA_MOVED = DATA / "alua_moved.conf"


@pytest.mark.parametrize("second", [None, ALUA_MOVED])
def test_perl_and_ours_make_the_same_tree_and_write_the_same_file(
        second: Path | None, tmp_path: Path) -> None:
    """-config of the same file (then, with -force, one that deletes a device group, moves
    its device and targets between groups and changes states), then -write_config by each
    writer on each tree.  (scstadmin's -config -force refuses to take a device out of a group
    whose target groups have targets, "Device may still be in use": no such move here.)"""
    if fuse_unavailable():
        pytest.skip(str(fuse_unavailable()))
    with mounted_scst() as by_perl, mounted_scst() as by_us:
        perl(by_perl, "-config", str(ALUA_CONF))
        assert cli.main(["--root", str(by_us.root), "-config", str(ALUA_CONF)]) == 0
        if second is not None:
            perl(by_perl, "-config", str(second), "-force")
            assert cli.main(["--root", str(by_us.root), "-config", str(second), "-force",
                             "-noprompt"]) == 0
        trees = [snapshot(ScstSysfs(mounted.root)) for mounted in (by_perl, by_us)]
        assert trees[0] == trees[1]
        assert any(path.startswith("device_groups/dg1/target_groups/") for path in trees[0])
        files = []
        for mounted in (by_perl, by_us):
            for writer in ("perl", "ours"):
                path = tmp_path / f"{writer}-{len(files)}.conf"
                if writer == "perl":
                    perl(mounted, "-write_config", str(path))
                else:
                    assert cli.main(["--root", str(mounted.root), "-write_config",
                                     str(path)]) == 0
                files.append(without_header(path.read_text()))
        assert files[0] == files[1] == files[2] == files[3]
        assert "DEVICE_GROUP dg1 {" in files[0]
        expected = parse_file(str(second or ALUA_CONF))
        assert parse(files[0]).device_groups == expected.device_groups


# --- SCST's copy manager (targets/copy_manager), which every SCST tree has ----------------

COPY_MANAGER_FILE = """\
HANDLER vdisk_nullio {
\tDEVICE b
\tDEVICE a
\tDEVICE ro {
\t\tread_only 1
\t}
}

TARGET_DRIVER copy_manager {
\tallow_not_connected_copy 1

\tTARGET copy_manager_tgt {
\t\tLUN 0 b
\t\tLUN 2 ro {
\t\t\tread_only 1
\t\t}
\t\tLUN 6 a
\t}
}
"""


def copy_manager_block(text: str) -> str:
    start = text.index("TARGET_DRIVER copy_manager {")
    return text[start : text.index("\n}\n", start) + 3]


def copy_manager_luns(root: Path) -> dict[str, str]:
    luns = root / "targets/copy_manager/copy_manager_tgt/luns"
    return {entry.name: (entry / "device").readlink().name for entry in luns.iterdir()
            if entry.is_dir()}


def test_copy_manager_listings(tree: MountedScst) -> None:
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("add_device n0\n")
    targets = scstadmin(tree.root, "-list_target")
    assert targets.status == 0 and "copy_manager copy_manager_tgt" in targets.output
    assert "\tcopy_manager\n" in scstadmin(tree.root, "-list_driver").output
    sessions = scstadmin(tree.root, "-list_sessions")
    assert sessions.status == 0, sessions.output
    assert "Driver/Target: copy_manager/copy_manager_tgt" in sessions.output
    assert "Session: copy_manager_sess" in sessions.output
    target = scstadmin(tree.root, "-list_tgt_attr", "copy_manager_tgt", "-driver",
                       "copy_manager", "-nonkey")
    assert target.status == 0 and "rel_tgt_id" in target.output, target.output
    driver = scstadmin(tree.root, "-list_drv_attr", "copy_manager", "-nonkey")
    assert driver.status == 0 and "allow_not_connected_copy" in driver.output, driver.output
    device = scstadmin(tree.root, "-list_dev_attr", "n0", "-nonkey")
    assert device.status == 0 and "FATAL" not in device.output, device.output
    # scstadmin leaves the copy manager's LUN out of a device's exports
    assert re.search(r"\texported +<n/a> ", device.output), device.output


def test_perl_writes_the_copy_manager_block_as_we_do(tree: MountedScst,
                                                     tmp_path: Path) -> None:
    for line in ("add_device n0", "add_device n1 read_only=1", "add_device n2"):
        (tree.root / "handlers/vdisk_nullio/mgmt").write_text(line + "\n")
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("del_device n0\n")
    (tree.root / "targets/copy_manager/allow_not_connected_copy").write_text("1\n")
    perl, ours = tmp_path / "perl.conf", tmp_path / "ours.conf"
    result = scstadmin(tree.root, "-write_config", str(perl))
    assert result.status == 0, result.output
    assert cli.main(["-write_config", str(ours), "--root", str(tree.root)]) == 0
    block = copy_manager_block(perl.read_text())
    assert block == copy_manager_block(ours.read_text())
    assert "\tallow_not_connected_copy 1\n" in block and "\t\tLUN 1 n1 {\n" in block
    assert "\t\tLUN 2 n2\n" in block and "LUN 0" not in block


def test_perl_config_of_the_block_gives_our_tree(tree: MountedScst) -> None:
    """The same file through scstadmin and through tcmu-scst-admin: the same devices and
    copy manager LUNs (the automatic ones, and the file's where the number was free)."""
    path = tree.root.parent / f"{tree.root.name}.conf"
    path.write_text(COPY_MANAGER_FILE)
    try:
        result = scstadmin(tree.root, "-config", str(path))
        assert result.status == 0 and "FATAL" not in result.output, result.output
        again = scstadmin(tree.root, "-config", str(path))
        assert again.status == 0 and "0 change(s) made" in again.output, again.output
        with mounted_scst() as ours:
            assert cli.main(["-config", str(path), "--root", str(ours.root)]) == 0
            assert copy_manager_luns(ours.root) == copy_manager_luns(tree.root) == {
                "0": "a", "1": "b", "2": "ro", "6": "a"}
            for root in (ours.root, tree.root):
                assert (root / "targets/copy_manager/allow_not_connected_copy").read_text() \
                    == "1\n[key]\n"
    finally:
        path.unlink()


FORCE_BEFORE = """\
HANDLER vdisk_nullio {
\tDEVICE a
\tDEVICE b {
\t\tsize_mb 8
\t}
\tDEVICE ro {
\t\tread_only 1
\t}
}
"""
# a1 is created before b is re-created (scstadmin then reads the tree again), c after it
FORCE_AFTER = """\
HANDLER vdisk_nullio {
\tDEVICE a
\tDEVICE a1
\tDEVICE b {
\t\tsize_mb 16
\t}
\tDEVICE c
}
"""
FORCE_BLOCK = """
TARGET_DRIVER copy_manager {
\tTARGET copy_manager_tgt {
\t\tLUN 1 a
\t\tLUN 5 b
\t\tLUN 9 c
\t}
}
"""


@pytest.mark.parametrize(("block", "expected"), [
    ("", {"5": "c"}), (FORCE_BLOCK, {"1": "a", "5": "c", "9": "c"})],
    ids=["without-block", "with-block"])
def test_perl_and_ours_force_the_copy_manager_alike(block: str, expected: dict[str, str],
                                                    tmp_path: Path) -> None:
    """-config -force of a file with devices removed, added and re-created, with and
    without a copy manager block: scstadmin deletes the copy manager LUNs the file lacks
    before it creates devices and again after its last re-creation of one (when it reads
    the tree again), and skips a file LUN at a number a new device took; so do we."""
    if fuse_unavailable():
        pytest.skip(str(fuse_unavailable()))
    before, after = tmp_path / "before.conf", tmp_path / "after.conf"
    before.write_text(FORCE_BEFORE)
    after.write_text(FORCE_AFTER + block)
    with mounted_scst() as by_perl, mounted_scst() as by_us:
        for mounted in (by_perl, by_us):
            assert cli.main(["--root", str(mounted.root), "-config", str(before)]) == 0
            assert copy_manager_luns(mounted.root) == {"0": "a", "1": "b", "2": "ro"}
        result = scstadmin(by_perl.root, "-config", str(after), "-force", "-noprompt")
        assert result.status == 0 and "FATAL" not in result.output, result.output
        assert cli.main(["--root", str(by_us.root), "-config", str(after), "-force",
                         "-noprompt"]) == 0
        assert copy_manager_luns(by_perl.root) == copy_manager_luns(by_us.root) == expected
        made_by_perl, made_by_us = tree_snapshot(by_perl.root), tree_snapshot(by_us.root)
        assert made_by_perl == made_by_us, difference(made_by_perl, made_by_us)
