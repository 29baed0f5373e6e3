"""SCST's Perl scstadmin, unchanged, on our tree (issue 20, first steps): it reads the whole
tree before any command, ``device_groups/`` included, so without that directory every
command failed ("deviceGroups(): Unable to read directory")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.config.scst_conf import parse_file

from .perl_scstadmin import perl_unavailable, scstadmin
from .scst_mount import MountedScst

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
