"""SCST's Perl scstadmin, unchanged, on our tree (issue 20, first steps): it reads the whole
tree before any command, ``device_groups/`` included, so without that directory every
command failed ("deviceGroups(): Unable to read directory")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcmu_scst.config import cli
from tcmu_scst.config.scst_conf import parse_file

from .perl_scstadmin import perl_unavailable, scstadmin
from .scst_mount import MountedScst, mounted_scst

pytestmark = pytest.mark.skipif(perl_unavailable() is not None,
                                reason=str(perl_unavailable()))


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


def test_device_groups_cannot_be_made_until_alua_is_realised(tree: MountedScst) -> None:
    """Fail closed: a standby path that LIO does not enforce must not be promised."""
    with pytest.raises(OSError) as caught:
        (tree.root / "device_groups/mgmt").write_text("create dg1\n")
    assert caught.value.errno == 22
    assert sorted(path.name for path in (tree.root / "device_groups").iterdir()) == ["mgmt"]


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
