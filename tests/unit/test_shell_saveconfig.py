"""saveconfig/restoreconfig: the shell runs the scstadmin-compatible config tool as a program
on the same tree, shows its messages, and turns its failures into one error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.config.sysfs import ScstSysfs

from .scst_mount import MountedScst
from .shell_run import run_shell

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:configshell")
pytest.importorskip("tcmu_scst.config.cli", reason="the config tool is not there yet")

IQN = "iqn.2006-10.net.vlnb:tgt"



def test_save_then_restore_brings_the_configuration_back(tree: MountedScst,
                                                         tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(1 << 20))
    saved = tmp_path / "scst.conf"
    for words in (("/handlers/vdisk_fileio", "create", "disk1", f"filename={disk}",
                   "blocksize=4096"),
                  ("/targets/iscsi", "create", IQN),
                  (f"/targets/iscsi/{IQN}/luns", "create", "disk1", "0"),
                  (f"/targets/iscsi/{IQN}", "enable")):
        assert run_shell(tree.root, *words).status == 0, words
    result = run_shell(tree.root, "saveconfig", str(saved))
    assert result.status == 0, result.err
    assert result.out.splitlines()[-1] == f"saveconfig: done ({saved})"
    text = saved.read_text()
    assert "DEVICE disk1" in text and "blocksize 4096" in text and f"TARGET {IQN}" in text

    for words in ((f"/targets/iscsi/{IQN}", "disable"),
                  ("/targets/iscsi", "delete", IQN),
                  ("/handlers/vdisk_fileio", "delete", "disk1")):
        assert run_shell(tree.root, *words).status == 0, words
    sysfs = ScstSysfs(tree.root)
    assert sysfs.subdirectories("devices") == []
    result = run_shell(tree.root, "restoreconfig", str(saved))
    assert result.status == 0, result.err
    assert result.out.splitlines()[-1] == f"restoreconfig: done ({saved})"
    # fileio's size is always a key on SCST (read-only and no creation parameter: not saved)
    assert sysfs.key_attributes("devices/disk1") == {"blocksize": "4096", "filename": str(disk),
                                                     "size": str(disk.stat().st_size)}
    assert sysfs.readlink(f"targets/iscsi/{IQN}/luns/0/device") == "disk1"
    assert sysfs.attribute(f"targets/iscsi/{IQN}/enabled").value == "1"


def test_the_config_tools_errors_are_one_line(tree: MountedScst, tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("HANDLER no_such_handler {\n\tDEVICE x\n}\n")
    result = run_shell(tree.root, "restoreconfig", str(bad))
    assert result.status == 1 and result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"Error: restoreconfig {bad}: the config tool failed (exit 1)")
    assert "no_such_handler" in result.err
    missing = run_shell(tree.root, "restoreconfig", str(tmp_path / "none.conf"))
    assert missing.status == 1 and "none.conf" in missing.err
    (tmp_path / "a_file").write_text("")
    unwritable = run_shell(tree.root, "saveconfig", str(tmp_path / "a_file/scst.conf"))
    assert unwritable.status == 1 and unwritable.err.startswith("Error: saveconfig ")
    assert sorted(ScstSysfs(tree.root).subdirectories("devices")) == []
