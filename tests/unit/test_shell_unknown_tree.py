"""A handler and a target driver the shell has never heard of get nodes, summaries, commands,
help and completion from their files alone.

The tree is a plain directory laid out as SCST lays its sysfs out (files, directories,
relative symlinks).  A plain file keeps what is written over its start (the shell opens
``mgmt`` without truncating, as sysfs is written), so each check reads back what the shell
sent, and the usage text is put back before the next command.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.shell.app import ScstShell

from .shell_run import run_shell

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:configshell")

WIDGET_HELP = """Usage: echo "add_device device_name [parameters]" >mgmt
       echo "del_device device_name" >mgmt
       echo "calibrate device_name <level>" >mgmt

where parameters are one or more param_name=value pairs separated by ';'

The following parameters available: gear, colour, spindle_file

"""

WARP_HELP = """Usage: echo "add_target target_name [parameters]" >mgmt
       echo "del_target target_name" >mgmt
       echo "warp_session target_name session_name" >mgmt

where parameters are one or more param_name=value pairs separated by ';'

The following parameters available: warp_factor

"""

LUNS_HELP = """Usage: echo "add VNAME lun [parameters]" >mgmt
       echo "del lun" >mgmt
       echo "clear" >mgmt
"""


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "scst_tgt"
    write(root / "version", "9.9.9-test\n", 0o444)
    write(root / "last_sysfs_mgmt_res", "0\n", 0o444)
    write(root / "handlers/dev_widget/mgmt", WIDGET_HELP)
    write(root / "handlers/dev_widget/type", "13 - Widget device\n", 0o444)
    link(root / "handlers/dev_widget/w1", "../../devices/w1")
    write(root / "devices/w1/size", "8388608\n", 0o444)
    write(root / "devices/w1/gear", "3\n[key]\n")
    link(root / "devices/w1/handler", "../../handlers/dev_widget")
    (root / "devices/w1/exported").mkdir()
    write(root / "targets/warp_drive/mgmt", WARP_HELP)
    write(root / "targets/warp_drive/enabled", "0\n")
    target = root / "targets/warp_drive/ncc-1701"
    write(target / "enabled", "1\n")
    write(target / "luns/mgmt", LUNS_HELP)
    link(target / "luns/7/device", "../../../../../devices/w1")
    write(target / "luns/7/read_only", "0\n", 0o444)
    (target / "sessions/kirk").mkdir(parents=True)
    write(target / "sessions/kirk/initiator_name", "kirk\n", 0o444)
    return root


def sent(path: Path, help_text: str) -> str:
    """What the shell wrote over the start of ``path``; then the usage text goes back."""
    written = path.read_text()
    path.write_text(help_text)
    return written.split("\n")[0]


def test_ls_shows_the_unknown_handler_and_driver_with_summaries(tree: Path) -> None:
    result = run_shell(tree, "ls")
    assert result.status == 0, result.err
    rows = dict(re.findall(r"o- (\S+) \.+ \[(.*)\]$", result.out, re.MULTILINE))
    assert rows["/"] == "9.9.9-test"
    assert rows["dev_widget"] == "1 device"
    found = re.findall(r"o- w1 \.+ \[(.*)\]$", result.out, re.MULTILINE)
    assert found == ["dev_widget, 8.0 MiB, not exported", "-> /devices/w1"]
    assert rows["warp_drive"] == "disabled, 1 target"
    assert rows["ncc-1701"] == "enabled, 1 LUN, 1 session"
    assert rows["7"] == "w1"
    assert rows["kirk"] == "kirk"


def test_commands_help_and_completion_come_from_the_unknown_texts(tree: Path) -> None:
    listing = run_shell(tree, "/handlers/dev_widget", "help")
    for command in ("create device_name [NAME=VALUE...]", "delete device_name",
                    "calibrate device_name level [more...]", "add_device", "del_device"):
        assert f"  - {command}" in listing.out, command
    calibrate = run_shell(tree, "/handlers/dev_widget", "help", "calibrate")
    assert 'echo "calibrate device_name <level>" >mgmt' in calibrate.out
    assert "warp_factor" in run_shell(tree, "/targets/warp_drive", "help", "create").out

    shell = ScstShell(ScstSysfs(tree), None, io.StringIO(), io.StringIO())
    assert shell.completions("/handlers/dev_widget cal") == ["calibrate "]
    assert shell.completions("/handlers/dev_widget create w2 co") == ["colour="]
    assert shell.completions("/handlers/dev_widget create w2 spindle_file=" +
                             str(tree / "ver")) == [f"spindle_file={tree}/version"]
    assert shell.completions("/handlers/dev_widget calibrate ")[0] == "w1 "
    assert shell.completions("/handlers/dev_widget delete ")[0] == "w1 "
    assert shell.completions("/targets/warp_drive warp_session ")[0] == "ncc-1701 "
    assert shell.completions("/targets/warp_drive warp_session ncc-1701 ")[0] == "kirk "
    assert shell.completions("/targets/warp_drive/ncc-1701/luns delete ")[0] == "7 "
    assert shell.completions("/targets/warp_drive/ncc-1701/luns create w")[0] == "w1 "
    assert shell.completions("/targets/warp_drive/ncc-1701/luns create w1 ")[0] == "0 "
    assert "en" not in shell.completions("/devices/w1 en")  # no enabled file, no enable
    assert shell.completions("/targets/warp_drive/ncc-1701 dis") == ["disable "]


def test_the_shell_writes_what_the_unknown_texts_describe(tree: Path) -> None:
    widget = tree / "handlers/dev_widget/mgmt"
    warp = tree / "targets/warp_drive/mgmt"
    result = run_shell(tree, "/handlers/dev_widget", "create", "w2", "gear=5", "colour=red")
    assert result.status == 0, result.err
    assert sent(widget, WIDGET_HELP) == "add_device w2 gear=5; colour=red"
    assert run_shell(tree, "/handlers/dev_widget", "calibrate", "w1", "fine", "tuned").status == 0
    assert sent(widget, WIDGET_HELP) == "calibrate w1 fine tuned"
    assert run_shell(tree, "/handlers/dev_widget", "delete", "w1").status == 0
    assert sent(widget, WIDGET_HELP) == "del_device w1"
    refused = run_shell(tree, "/handlers/dev_widget", "create", "w3", "speed=9")
    assert refused.status == 1 and "Unknown parameter speed for add_device" in refused.err
    assert run_shell(tree, "/targets/warp_drive", "warp_session", "ncc-1701", "spock").status == 0
    assert sent(warp, WARP_HELP) == "warp_session ncc-1701 spock"
    assert run_shell(tree, "/targets/warp_drive", "create", "ncc-1864", "warp_factor=9").status == 0
    assert sent(warp, WARP_HELP) == "add_target ncc-1864 warp_factor=9"
    assert run_shell(tree, "/targets/warp_drive", "enable").status == 0
    assert (tree / "targets/warp_drive/enabled").read_text().startswith("1\n")
    shown = run_shell(tree, "/devices/w1", "get", "attribute")
    assert shown.out.splitlines() == ["gear=3 [key]", "size=8388608 [ro]"]
