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
