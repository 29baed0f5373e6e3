"""tcmu-scst-shell driven non-interactively against our tree, mounted with the kernel's FUSE.

Every command goes through the same entry point a user types into (``cli.main``), and every
effect is checked in the tree through the file system, the way an ``echo`` user would see it.
"""

from __future__ import annotations

import errno
import io
import re
from pathlib import Path

import pytest

from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.shell.app import ScstShell

from .scst_mount import MountedScst
from .shell_run import run_shell

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:configshell")

IQN = "iqn.2006-10.net.vlnb:tgt"
TGT = f"/targets/iscsi/{IQN}"
INITIATOR = "iqn.1994-05.com.example:host1"



@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk1"
    path.write_bytes(bytes(4 << 20))
    return path


def shell_for(root: Path) -> ScstShell:
    return ScstShell(ScstSysfs(root), None, io.StringIO(), io.StringIO())


def announce(root: Path, disk: Path) -> None:
    """The announcement's example, from the shell, one command per invocation."""
    for words in (["/handlers/vdisk_fileio", "create", "disk1", f"filename={disk}",
                   "blocksize=4096"],
                  ["/targets/iscsi", "create", IQN],
                  [f"{TGT}/luns", "create", "disk1", "0"],
                  [TGT, "enable"],
                  ["/targets/iscsi", "enable"]):
        result = run_shell(root, *words)
        assert result.status == 0, (words, result.err)


def test_the_announcement_example_from_one_shot_commands(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    sysfs = ScstSysfs(tree.root)
    # fileio's size is always a key on SCST (read-only and no creation parameter: not saved)
    assert sysfs.key_attributes("devices/disk1") == {"blocksize": "4096", "filename": str(disk),
                                                     "size": str(disk.stat().st_size)}
    assert sysfs.readlink(f"targets/iscsi/{IQN}/luns/0/device") == "disk1"
    assert sysfs.attribute(f"targets/iscsi/{IQN}/enabled").value == "1"
    assert sysfs.attribute("targets/iscsi/enabled").value == "1"
    assert sysfs.read("last_sysfs_mgmt_res") == "0\n"


def test_ls_summarises_devices_targets_luns_and_sessions(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    assert run_shell(tree.root, "/targets/scst_local", "create", "local1",
                     "session_name=sess1").status == 0
    listing = run_shell(tree.root, "ls")
    assert listing.status == 0, listing.err
    rows = [match.groups() for match in re.finditer(r"o- (\S+) \.+ \[(.*)\]$", listing.out,
                                                     re.MULTILINE)]
    assert ("disk1", f"vdisk_fileio, 4.0 MiB, {disk}, exported") in rows
    assert ("disk1", "-> /devices/disk1") in rows  # under handlers/vdisk_fileio
    assert ("export0", "-> /targets/copy_manager/copy_manager_tgt/luns/0") in rows
    assert ("export1", f"-> {TGT}/luns/0") in rows
    assert (IQN, "enabled, 1 LUN, 0 sessions") in rows
    assert ("iscsi", "enabled, 1 target") in rows
    assert ("0", "disk1") in rows
    assert ("local1", "0 LUNs, 1 session") in rows  # scst_local has no enabled switch
    assert ("sess1", "sess1") in rows
    assert ("targets", "4 drivers") in rows and ("vdisk_fileio", "1 device") in rows
    # ls of a sub-path, with a depth
    sub = run_shell(tree.root, "ls", "/targets", "1")
    assert sub.status == 0 and "iscsi" in sub.out and IQN not in sub.out


def test_create_and_delete_for_every_kind_of_object(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    sysfs = ScstSysfs(tree.root)
    steps = [
        (f"{TGT}/ini_groups", "create", "group1"),
        (f"{TGT}/ini_groups", "create", "group2"),
        (f"{TGT}/ini_groups/group1/initiators", "create", INITIATOR),
        (f"{TGT}/ini_groups/group1/luns", "create", "disk1", "3", "read_only=1"),
        (f"{TGT}/ini_groups/group1/initiators", "move", INITIATOR, "group2"),
    ]
    for words in steps:
        result = run_shell(tree.root, *words)
        assert result.status == 0, (words, result.err)
        assert result.out.startswith("Done: ")
    assert sysfs.exists(f"targets/iscsi/{IQN}/ini_groups/group2/initiators/{INITIATOR}")
    assert not sysfs.exists(f"targets/iscsi/{IQN}/ini_groups/group1/initiators/{INITIATOR}")
    assert sysfs.attribute(f"targets/iscsi/{IQN}/ini_groups/group1/luns/3/read_only").value == "1"

    for words in [(f"{TGT}/ini_groups/group2/initiators", "delete", INITIATOR),
                  (f"{TGT}/ini_groups/group1/luns", "delete", "3"),
                  (f"{TGT}/ini_groups", "delete", "group1"),
                  (f"{TGT}/ini_groups", "delete", "group2"),
                  (f"{TGT}", "disable"),
                  (f"{TGT}/luns", "delete", "0"),
                  ("/targets/iscsi", "delete", IQN),
                  ("/handlers/vdisk_fileio", "delete", "disk1")]:
        result = run_shell(tree.root, *words)
        assert result.status == 0, (words, result.err)
    assert sysfs.subdirectories("devices") == []
    assert sysfs.subdirectories("targets/iscsi") == []


def test_every_verb_of_a_help_text_is_a_command(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    sysfs = ScstSysfs(tree.root)
    # scst_local's own verbs
    assert run_shell(tree.root, "/targets/scst_local", "add_target", "local1").status == 0
    result = run_shell(tree.root, "/targets/scst_local", "add_session", "local1", "sess2")
    assert result.status == 0, result.err
    assert "sess2" in sysfs.entries("targets/scst_local/local1/sessions")
    assert run_shell(tree.root, "/targets/scst_local", "del_session", "local1",
                     "sess2").status == 0
    assert "sess2" not in sysfs.entries("targets/scst_local/local1/sessions")
    # iSCSI's attribute verbs take the rest of the line as the value
    result = run_shell(tree.root, "/targets/iscsi", "add_target_attribute", IQN,
                       "IncomingUser", "joe", "secretsecret12")
    assert result.status == 0, result.err
    assert sysfs.attribute(f"targets/iscsi/{IQN}/IncomingUser").value == "joe secretsecret12"
    assert run_shell(tree.root, "/targets/iscsi", "del_target_attribute", IQN, "IncomingUser",
                     "joe", "secretsecret12").status == 0
    assert not sysfs.exists(f"targets/iscsi/{IQN}/IncomingUser")
    # LUN set verbs: replace, clear (the SCST names work next to create/delete)
    assert run_shell(tree.root, "/handlers/vdisk_nullio", "add_device", "null1").status == 0
    assert run_shell(tree.root, f"{TGT}/luns", "replace", "null1", "0").status == 0
    assert sysfs.readlink(f"targets/iscsi/{IQN}/luns/0/device") == "null1"
    assert run_shell(tree.root, f"{TGT}/luns", "add", "disk1", "1").status == 0
    assert run_shell(tree.root, f"{TGT}/luns", "clear").status == 0
    assert sysfs.subdirectories(f"targets/iscsi/{IQN}/luns") == []


def test_errors_are_one_line_with_the_trees_errno(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    cases = [
        # the tree refuses: the errno is named, with the file that refused
        (("/handlers/vdisk_fileio", "create", "disk1", f"filename={disk}"),
         "add_device disk1 filename=" + str(disk) + ": File exists (EEXIST) from "
         "/handlers/vdisk_fileio/mgmt"),
        (("/handlers/vdisk_fileio", "create", "disk9", "filename=/nonexistent/x"),
         "(ENOENT) from /handlers/vdisk_fileio/mgmt"),
        ((f"{TGT}/luns", "create", "nodisk", "5"), "from /targets/iscsi/" + IQN + "/luns/mgmt"),
        (("/devices/disk1", "set", "attribute", "t10_dev_id=" + "x" * 40),
         "set t10_dev_id=" + "x" * 40 + ": Invalid argument (EINVAL) from /devices/disk1/"
         "t10_dev_id"),
        # the shell refuses before writing
        (("/handlers/vdisk_fileio", "create", "disk2", "colour=blue"),
         "Unknown parameter colour for add_device"),
        (("/devices/disk1", "get", "attribute", "nosuch"), "No attribute 'nosuch'"),
        (("/devices/disk1", "set", "attribute", "nosuch=1"), "No attribute 'nosuch'"),
        (("/handlers/vdisk_fileio", "frobnicate"), "Command not found: frobnicate"),
        (("/handlers/vdisk_fileio", "delete"), "Missing required parameter device_name"),
        (("/handlers/vdisk_fileio", "delete", "a", "b"), "positionnal parameters"),
        (("/nosuch", "ls"), "No such path /nosuch"),
        (("cd", "/handlers/nothing"), "No such path"),
        (("/handlers/vdisk_fileio", "create", "disk3", 'filename="/a b"'), "cannot parse"),
        (("help", "nosuchtopic"), "Cannot find help topic"),
    ]
    for words, expected in cases:
        result = run_shell(tree.root, *words)
        assert result.status == 1, words
        assert result.out == "", (words, result.out)
        assert result.err.count("\n") == 1 and result.err.startswith("Error: "), result.err
        assert expected in result.err, (expected, result.err)
        assert "Traceback" not in result.err
    sysfs = ScstSysfs(tree.root)
    assert sysfs.read("last_sysfs_mgmt_res").strip() == f"-{errno.EINVAL}"  # t10_dev_id's
    assert not sysfs.exists("devices/disk2") and not sysfs.exists("devices/disk3")


def test_a_root_that_is_no_tree_is_one_line(tmp_path: Path) -> None:
    result = run_shell(tmp_path, "ls")
    assert result.status == 1
    assert result.err.startswith("Error: ") and "no SCST sysfs tree" in result.err
    assert result.err.count("\n") == 1


def test_get_and_set_attributes(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    shown = run_shell(tree.root, "/devices/disk1", "get", "attribute")
    assert shown.status == 0
    lines = shown.out.splitlines()
    assert "blocksize=4096 [key] [ro]" in lines
    assert f"filename={disk} [key] [ro]" in lines
    assert "t10_vend_id=SCST_FIO" in lines
    assert "resync_size=<write-only> [wo]" in lines
    assert not any(line.startswith("mgmt") for line in lines)
    some = run_shell(tree.root, "/devices/disk1", "get", "attribute", "size", "blocksize")
    assert some.out.splitlines() == ["size=4194304 [key] [ro]", "blocksize=4096 [key] [ro]"]
    changed = run_shell(tree.root, "/devices/disk1", "set", "attribute", "prod_id=shelldisk",
                        "usn=1234")
    assert changed.status == 0, changed.err
    assert changed.out.splitlines() == ["prod_id=shelldisk [key]", "usn=1234 [key]"]
    assert ScstSysfs(tree.root).attribute("devices/disk1/prod_id").value == "shelldisk"
    # read-only: the tree refuses, and says so
    refused = run_shell(tree.root, "/devices/disk1", "set", "attribute", "blocksize=512")
    assert refused.status == 1
    assert "set blocksize=512: " in refused.err and "from /devices/disk1/blocksize" in refused.err
    # a bad value for an enabled switch, refused by the tree with EINVAL
    bad = run_shell(tree.root, TGT, "set", "attribute", "enabled=x")
    assert bad.status == 1 and "(EINVAL)" in bad.err
    # the shell's own preferences are still reachable
    prefs = run_shell(tree.root, "get", "global", "tree_round_nodes")
    assert prefs.status == 0 and "tree_round_nodes=true" in prefs.out


def test_help_comes_from_the_mgmt_texts(tree: MountedScst) -> None:
    result = run_shell(tree.root, "/handlers/vdisk_fileio", "help", "create")
    assert result.status == 0
    assert 'echo "add_device device_name [parameters]" >mgmt' in result.out
    assert "create device_name [NAME=VALUE...]" in result.out
    assert "blocksize, cluster_mode" in result.out and "filename" in result.out
    luns = run_shell(tree.root, "/targets/iscsi", "create", IQN)
    assert luns.status == 0
    lun_help = run_shell(tree.root, f"{TGT}/luns", "help", "add")
    assert 'echo "add H:C:I:L lun [parameters]" >mgmt' in lun_help.out
    assert 'echo "add VNAME lun [parameters]" >mgmt' in lun_help.out
    assert "add device lun [NAME=VALUE...]" in lun_help.out
    assert "read_only" in lun_help.out
    local = run_shell(tree.root, "/targets/scst_local", "help", "add_session")
    assert 'echo "add_session target_name session_name" >mgmt' in local.out
    attr = run_shell(tree.root, "/targets/iscsi", "help", "add_target_attribute")
    assert "IncomingUser, OutgoingUser, allowed_portal" in attr.out
    listing = run_shell(tree.root, "/targets/iscsi", "help")
    for command in ("create target_name", "delete target_name", "add_attribute attribute value",
                    "enable", "disable", "get [group]", "ls [path] [depth]"):
        assert f"  - {command}" in listing.out, command
    # commands exist only where their mgmt file is
    assert "create" not in run_shell(tree.root, "/devices", "help").out.split("AVAILABLE")[1]
    assert "  - saveconfig [savefile]" in run_shell(tree.root, "help").out
    assert "  - saveconfig" not in run_shell(tree.root, "/handlers", "help").out


def test_script_file_runs_in_order_and_stops_at_the_first_error(
        tree: MountedScst, disk: Path, tmp_path: Path) -> None:
    script = tmp_path / "setup.scst"
    script.write_text(
        "# the announcement's example\n"
        "cd /handlers/vdisk_fileio\n"
        f"create disk1 filename={disk} blocksize=4096\n"
        "\n"
        "cd /targets/iscsi\n"
        f"create {IQN}\n"
        f"{IQN}/luns create disk1 0\n"
        f"{IQN} ls\n"  # a child's name without a slash is a path too
        f"cd {IQN}\n"
        "enable\n"
        "/targets/iscsi enable\n"
        "pwd\n")
    result = run_shell(tree.root, script=script)
    assert result.status == 0, result.err
    assert result.out.splitlines()[-1] == TGT
    assert re.search(rf"o- {re.escape(IQN)} \.+ \[disabled, 1 LUN, 0 sessions\]", result.out)
    sysfs = ScstSysfs(tree.root)
    assert sysfs.attribute(f"targets/iscsi/{IQN}/enabled").value == "1"

    broken = tmp_path / "broken.scst"
    broken.write_text("/handlers/vdisk_nullio create null1\n"
                      "/handlers/vdisk_nullio create null1\n"
                      "/handlers/vdisk_nullio create null2\n")
    result = run_shell(tree.root, script=broken)
    assert result.status == 1
    assert result.err.startswith(f"Error: {broken}:2: add_device null1: File exists (EEXIST)")
    assert not sysfs.exists("devices/null2")
    missing = run_shell(tree.root, script=tmp_path / "nothing.scst")
    assert missing.status == 1 and "No such file or directory" in missing.err


def test_cd_bookmarks_and_a_current_node_that_disappears(
        tree: MountedScst, disk: Path, tmp_path: Path) -> None:
    announce(tree.root, disk)
    prefs = tmp_path / "prefs"
    script = tmp_path / "marks.scst"
    script.write_text(f"cd {TGT}/luns\nbookmarks add lunset\ncd /\ncd @lunset\npwd\n"
                      "cd ..\npwd\ncd <\npwd\n")
    result = run_shell(tree.root, script=script, prefs=prefs)
    assert result.status == 0, result.err
    assert [line for line in result.out.splitlines() if line.startswith("/")] == \
        [f"{TGT}/luns", TGT, f"{TGT}/luns"]
    # bookmarks persist between invocations in the preferences directory
    again = run_shell(tree.root, "@lunset", "ls", prefs=prefs)
    assert again.status == 0 and "[disk1]" in again.out
    unknown = run_shell(tree.root, "cd", "@nomark", prefs=prefs)
    assert unknown.status == 1 and "No such bookmark nomark" in unknown.err

    shell = shell_for(tree.root)
    shell.run_cmdline(f"cd {TGT}/ini_groups")
    shell.run_cmdline("create g1")
    shell.run_cmdline("cd g1/initiators")
    shell.run_cmdline(f"{TGT}/ini_groups delete g1")
    assert shell.current_path == f"{TGT}/ini_groups"  # moved up, not left in a ghost


def test_objects_made_outside_the_shell_appear_at_the_next_command(
        tree: MountedScst, disk: Path) -> None:
    shell = shell_for(tree.root)
    shell.run_cmdline("cd /handlers/vdisk_fileio")
    sysfs = ScstSysfs(tree.root)
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device outside filename={disk}")
    out = shell.con._stdout
    shell.run_cmdline("ls")
    assert "outside" in out.getvalue()
    assert "outside " in shell.completions("delete out")


def test_completion_of_commands_objects_and_parameters(tree: MountedScst, disk: Path) -> None:
    announce(tree.root, disk)
    assert run_shell(tree.root, "/targets/scst_local", "create", "local1",
                     "session_name=sess1").status == 0
    assert run_shell(tree.root, f"{TGT}/ini_groups", "create", "g1").status == 0
    assert run_shell(tree.root, f"{TGT}/ini_groups", "create", "g2").status == 0
    assert run_shell(tree.root, f"{TGT}/ini_groups/g1/initiators", "add", INITIATOR).status == 0
    shell = shell_for(tree.root)
    fileio = "/handlers/vdisk_fileio"
    assert shell.completions(f"{fileio} cr") == ["create "]
    assert set(shell.completions(f"{fileio} de")) == {"del_device", "delete"}
    assert shell.completions(f"{fileio} create disk2 blo") == ["blocksize="]
    assert shell.completions(f"{fileio} create disk2 filename={disk.parent}/di") == \
        [f"filename={disk}"]
    assert shell.completions(f"{fileio} create di") == []  # a new name: nothing to offer
    assert "disk1 " in shell.completions(f"{fileio} delete ")
    assert shell.completions(f"{TGT}/luns create di") == ["disk1 "]
    assert "1 " in shell.completions(f"{TGT}/luns create disk1 ")  # the next free LUN
    assert shell.completions(f"{TGT}/luns create disk1 1 re") == ["read_only="]
    assert "0 " in shell.completions(f"{TGT}/luns delete ")
    assert "local1 " in shell.completions("/targets/scst_local add_session ")
    assert "sess1 " in shell.completions("/targets/scst_local del_session local1 ")
    assert {"IncomingUser", "OutgoingUser", "allowed_portal"} <= set(
        shell.completions(f"/targets/iscsi add_target_attribute {IQN} "))
    assert shell.completions(f"{TGT}/ini_groups/g1/initiators delete iqn.1994") == \
        [INITIATOR + " "]
    assert shell.completions(f"{TGT}/ini_groups/g1/initiators move {INITIATOR} ")[0] == "g2 "
    assert shell.completions(f"{TGT}/ini_groups delete g") == ["g1", "g2"]
    assert shell.completions(f"{TGT}/luns create disk1 ") == ["1 "]  # not also "lun="
    assert shell.completions("/devices/disk1 set attribute pro") == ["prod_id=", "prod_rev_lvl="]
    assert shell.completions("/devices/disk1 get attribute blocks") == ["blocksize "]
    assert set(shell.completions(f"{TGT} set attribute enabled=")) == {"enabled=0", "enabled=1"}
    assert "attribute" in shell.completions("/devices/disk1 get ")
    assert shell.completions("/ha") == ["/handlers/"]
    assert shell.completions("cd /targets/is") == ["/targets/iscsi/"]
