"""Where our config tool differed from SCST's own scstadmin on the same tree (found by
``test_perl_equivalence.py``), each difference pinned here without needing the Perl program:

* ``-write_config`` lays the file out as scstadmin does, blank line for blank line (a blank
  line before each INITIATOR, none after a DEVICE without a block, group attributes after
  the initiators, one blank line at the end), so the two files differ only in the header;
* a driver's ``enabled 0`` is saved even when it has no targets, as scstadmin saves it;
* targets are enabled in name order, as scstadmin enables them: SCST gives a target without
  ``rel_tgt_id`` the next free one when it is enabled, so the file's order must not decide;
* a handler attribute the tree lacks is refused before the first write (it failed halfway);
* an empty file changes nothing, even with -force, and one with no HANDLER and no
  TARGET_DRIVER section is refused, both as scstadmin does;
* ``-close_dev`` of a device that still has LUNs and ``-rem_group`` of a group that still
  has LUNs or initiators wait for ``-force``, as in scstadmin;
* ``-set_*_attr`` writes nothing for a value the tree already shows (scstadmin: "already
  set, ignoring") and names a read-only attribute before any write (it failed with EACCES
  halfway through the list);
* a file saved by scstadmin's ``-write_config -nonkey`` is read: a name with no value is an
  empty value (``iSNSServer``), and the lines that only name a handler's devices in its
  HANDLER block are not attributes to set (the file was refused at the first of them), nor
  are the lines that only name a device group in the ALUA block;
* DEVICE_GROUP blocks come after the drivers in scstadmin's layout (a blank line after the
  DEVICE lines and after each TARGET_GROUP block), and an empty device group is left out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config import cli
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import ConfigError, format_config, parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst

# scstadmin's layout, as its -write_config writes it (checked against the Perl program by
# test_perl_equivalence.py on real trees); every blank line here is one it writes
SCSTADMIN_LAYOUT = """\
# header

setup_id 0x2a

HANDLER vdisk_nullio {
\tDEVICE a {
\t\tsize 16777216
\t}

\tDEVICE b
\tDEVICE c {
\t\tblocksize 4096
\t\tread_only 1
\t}
}

TARGET_DRIVER iscsi {
\tIncomingUser "joe 12charsecret"
\tIncomingUser "ann 12charsecret"
\tenabled 1

\tTARGET iqn.2024-01.x:a {
\t\tenabled 1
\t\trel_tgt_id 1

\t\tLUN 0 a
\t\tLUN 1 c {
\t\t\tread_only 1
\t\t}

\t\tLUN 2 b

\t\tGROUP empty
\t\tGROUP hosts {
\t\t\tLUN 0 a
\t\t\tLUN 1 c {
\t\t\t\tread_only 1
\t\t\t}
\t\t\tLUN 2 b

\t\t\tINITIATOR iqn.1:a

\t\t\tINITIATOR iqn.1:b
\t\t}
\t}

\tTARGET iqn.2024-01.x:b {
\t\tenabled 0
\t}
}

TARGET_DRIVER scst_local {
\tTARGET local {
\t\tsession_name host1
\t}
}

"""


def sorted_layout(text: str) -> str:
    """``SCSTADMIN_LAYOUT`` with multi-instance values in scstadmin's (sorted) order."""
    return text.replace('\tIncomingUser "joe 12charsecret"\n\tIncomingUser "ann 12charsecret"',
                        '\tIncomingUser "ann 12charsecret"\n\tIncomingUser "joe 12charsecret"')


def test_write_config_lays_the_file_out_as_scstadmin() -> None:
    # initiators and CHAP accounts out of order, blank lines lost: the layout is the writer's
    text = SCSTADMIN_LAYOUT.replace("\t\t\tINITIATOR iqn.1:a\n\n\t\t\tINITIATOR iqn.1:b",
                                    "\t\t\tINITIATOR iqn.1:b\n\t\t\tINITIATOR iqn.1:a")
    text = text.replace("\n\n", "\n")
    assert format_config(parse(text), header="# header") == sorted_layout(SCSTADMIN_LAYOUT)


def test_a_group_with_attributes_lists_them_after_its_initiators() -> None:
    config = parse("TARGET_DRIVER iscsi {\n TARGET t {\n  GROUP g {\n   black_hole 1\n"
                   "   INITIATOR i1\n  }\n  GROUP h {\n   black_hole 1\n  }\n }\n}\n")
    assert format_config(config, header="") == (
        "TARGET_DRIVER iscsi {\n\tTARGET t {\n"
        "\t\tGROUP g {\n\n\t\t\tINITIATOR i1\n\n\t\t\tblack_hole 1\n\t\t}\n\n"
        "\t\tGROUP h {\n\n\t\t\tblack_hole 1\n\t\t}\n\t}\n}\n\n")


def test_a_driver_switched_off_without_targets_is_saved() -> None:
    system = ScstSystem(RecordingRealizer())
    config = read_running(ScstSysfs("/", access=InProcessAccess(system.tree)))[0]
    assert config.drivers["iscsi"].attributes.items == [("enabled", "0")]
    assert "scst_local" not in config.drivers  # no enabled switch, no targets: nothing saved
    assert "TARGET_DRIVER iscsi {\n\tenabled 0\n}\n" in format_config(config)


def test_targets_are_enabled_in_name_order_whatever_the_file_order() -> None:
    system = ScstSystem(RecordingRealizer())
    sysfs = ScstSysfs("/", access=InProcessAccess(system.tree))
    Applier(sysfs).apply(parse("TARGET_DRIVER iscsi {\n TARGET iqn.2024-01.x:zeta {\n"
                               "  enabled 1\n }\n TARGET iqn.2024-01.x:alpha {\n  enabled 1\n"
                               " }\n}\n"))
    assert system.tree.read("/targets/iscsi/iqn.2024-01.x:alpha/rel_tgt_id") == "1\n[key]\n"
    assert system.tree.read("/targets/iscsi/iqn.2024-01.x:zeta/rel_tgt_id") == "2\n[key]\n"


def test_a_handler_attribute_the_tree_lacks_is_refused_before_any_write() -> None:
    system = ScstSystem(RecordingRealizer())
    applier = Applier(ScstSysfs("/", access=InProcessAccess(system.tree)))
    with pytest.raises(ConfigError) as caught:
        applier.apply(parse("HANDLER vdisk_nullio {\n DEVICE n1\n blocksize 4096\n}\n",
                            "f.conf"), "f.conf")
    assert str(caught.value) == "f.conf:3: handler vdisk_nullio has no attribute 'blocksize'"
    assert applier.writes == [] and system.tree.listdir("/devices") == []


@pytest.mark.parametrize("force", [[], ["-force", "-noprompt"]])
def test_an_empty_file_changes_nothing(tree: MountedScst, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       force: list[str]) -> None:
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("add_device n1\n")
    empty = tmp_path / "scst.conf"
    empty.write_text("# nothing here any more\n\n")
    assert cli.main(["-config", str(empty), *force, "--root", str(tree.root)]) == 0
    assert "the configuration is empty" in capsys.readouterr().err
    assert (tree.root / "devices/n1").is_dir()


def test_a_file_without_handlers_and_drivers_is_refused(tree: MountedScst, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    only_root = tmp_path / "scst.conf"
    only_root.write_text("setup_id 0x2a\n")
    for command in ("-config", "-check_config"):
        assert cli.main([command, str(only_root), "--root", str(tree.root)]) == 1
        assert "no HANDLER and no TARGET_DRIVER section" in capsys.readouterr().err
    assert (tree.root / "setup_id").read_text() == "0x0\n"


def cli_run(tree: MountedScst, capsys: pytest.CaptureFixture[str], *argv: str
            ) -> tuple[int, str]:
    status = cli.main([*argv, "--root", str(tree.root)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


IQN = "iqn.2024-01.x:t"


def exported_disk(tree: MountedScst) -> None:
    """n1 at LUN 0 of a target and of its group g1, which has an initiator; g2 is empty."""
    for path, text in (("handlers/vdisk_nullio/mgmt", "add_device n1"),
                       ("targets/iscsi/mgmt", f"add_target {IQN}"),
                       (f"targets/iscsi/{IQN}/luns/mgmt", "add n1 0"),
                       (f"targets/iscsi/{IQN}/ini_groups/mgmt", "create g1"),
                       (f"targets/iscsi/{IQN}/ini_groups/mgmt", "create g2"),
                       (f"targets/iscsi/{IQN}/ini_groups/g1/initiators/mgmt", "add iqn.1:a")):
        (tree.root / path).write_text(text + "\n")


def test_removing_what_is_in_use_waits_for_force(tree: MountedScst,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    exported_disk(tree)
    status, output = cli_run(tree, capsys, "-close_dev", "n1", "-handler", "vdisk_nullio")
    assert status == 1 and "device n1 is still in use (1 LUN(s)); use -force" in output
    status, output = cli_run(tree, capsys, "-rem_group", "g1", "-driver", "iscsi",
                             "-target", IQN)
    assert status == 1 and "group g1 still has LUNs or initiators; use -force" in output
    assert (tree.root / "devices/n1").is_dir()
    assert (tree.root / f"targets/iscsi/{IQN}/ini_groups/g1").is_dir()

    assert cli_run(tree, capsys, "-rem_group", "g2", "-driver", "iscsi", "-target", IQN)[0] == 0
    assert cli_run(tree, capsys, "-rem_group", "g1", "-driver", "iscsi", "-target", IQN,
                   "-force")[0] == 0
    assert cli_run(tree, capsys, "-close_dev", "n1", "-handler", "vdisk_nullio",
                   "-force")[0] == 0
    assert not (tree.root / "devices/n1").exists()
    assert sorted(path.name for path in (tree.root / f"targets/iscsi/{IQN}/ini_groups")
                  .iterdir()) == ["mgmt"]


def test_setting_attributes_skips_equal_values_and_names_read_only_ones_first(
        tree: MountedScst, capsys: pytest.CaptureFixture[str]) -> None:
    exported_disk(tree)
    status, output = cli_run(tree, capsys, "-set_dev_attr", "n1", "-attributes",
                             "t10_vend_id=ACME,size=8388608")
    assert status == 1 and "devices/n1: size is read-only" in output
    assert (tree.root / "devices/n1/t10_vend_id").read_text() == "SCST_FIO\n"  # none written
    status, output = cli_run(tree, capsys, "-set_grp_attr", "g1", "-driver", "iscsi",
                             "-target", IQN, "-attributes", "addr_method=PERIPHERAL")
    assert status == 0 and "Done, 0 change(s) made." in output
    status, output = cli_run(tree, capsys, "-set_dev_attr", "n1", "-attributes",
                             "t10_vend_id=ACME,prod_id=n1")
    assert status == 0 and "Done, 1 change(s) made." in output


# what scstadmin's -write_config -nonkey writes for a handler and an empty driver attribute
# (a name alone, then a blank: the empty value)
PERL_NONKEY = """\
HANDLER vdisk_nullio {
\tDEVICE n1 {
\t\tsize 16777216

\t\t# Non-key attributes
\t\tblocksize 512
\t\tsize_mb 16
\t}

\t# Non-key attributes
\tn1\x20
}

TARGET_DRIVER iscsi {
\tenabled 0

\t# Non-key attributes
\tiSNSServer\x20
}
"""


def test_a_file_saved_by_scstadmin_with_nonkey_applies() -> None:
    config = parse(PERL_NONKEY)
    assert config.drivers["iscsi"].attributes.get("iSNSServer") == ""
    system = ScstSystem(RecordingRealizer())
    applier = Applier(ScstSysfs("/", access=InProcessAccess(system.tree)))
    assert applier.apply(config) == 1
    assert [write.text for write in applier.writes] == [
        "add_device n1 size=16777216;blocksize=512;size_mb=16;"]
    assert system.tree.read("/devices/n1/size") == "16777216\n[key]\n"


# what scstadmin's -write_config writes for device groups, as the Perl program wrote it for
# this tree
DEVICE_GROUPS_LAYOUT = """\
HANDLER vdisk_nullio {
\tDEVICE n1
\tDEVICE n2
}

TARGET_DRIVER iscsi {
\tenabled 0

\tTARGET iqn.2024-01.x:a {
\t\tenabled 0

\t\tLUN 0 n1
\t}
}

DEVICE_GROUP dg1 {
\tDEVICE n1
\tDEVICE n2

\tTARGET_GROUP a {
\t\tgroup_id 1
\t\tstate active

\t\tTARGET iqn.2024-01.x:a
\t\tTARGET iqn.2024-01.x:remote {
\t\t\trel_tgt_id 9
\t\t}
\t}

\tTARGET_GROUP spare {
\t\tgroup_id 0
\t\tstate active
\t}

\tTARGET_GROUP z {
\t\tgroup_id 3
\t\tstate active
\t}
}

"""


def test_device_groups_are_laid_out_as_scstadmin_after_the_drivers() -> None:
    text = DEVICE_GROUPS_LAYOUT.replace("\n\n", "\n") + "DEVICE_GROUP empty\n"
    text = text.replace("DEVICE_GROUP dg1", "DEVICE_GROUP aaa {\n}\nDEVICE_GROUP dg1")
    config = parse(text)
    assert format_config(config, header="") == DEVICE_GROUPS_LAYOUT
    # a target group without attributes and targets (the tree always shows group_id and
    # state, so only a parsed file has one) is a bare line, with no blank line after it
    bare = parse(text.replace("\tTARGET_GROUP spare {\n\t\tgroup_id 0\n\t\tstate active\n"
                              "\t}\n", "\tTARGET_GROUP spare\n"))
    assert "\n\tTARGET_GROUP spare\n\tTARGET_GROUP z {\n" in format_config(bare)
    kept = format_config(config, header="", keep_empty=True)  # the daemon's own file
    assert "DEVICE_GROUP aaa {\n}\n" in kept and "DEVICE_GROUP empty {\n}\n" in kept


def test_the_alua_block_of_a_file_saved_with_nonkey_applies() -> None:
    """scstadmin's -nonkey lists each entry of device_groups/ in the ALUA block, with no
    value; the lines naming the file's device groups are passed over, others are checked."""
    text = ("HANDLER vdisk_nullio {\n\tDEVICE n1\n}\n\nALUA {\n\t# Non-key attributes\n"
            "\tdg1 \n}\n\nDEVICE_GROUP dg1 {\n\tDEVICE n1\n}\n")
    system = ScstSystem(RecordingRealizer())
    applier = Applier(ScstSysfs("/", access=InProcessAccess(system.tree)))
    applier.apply(parse(text))
    assert [write.text for write in applier.writes] == ["add_device n1", "create dg1",
                                                        "add n1"]
    with pytest.raises(ConfigError) as caught:
        Applier(ScstSysfs("/", access=InProcessAccess(system.tree))).apply(
            parse(text.replace("\tdg1 \n", "\tdg2 \n"), "f.conf"), "f.conf")
    assert "device_groups has no attribute 'dg2'" in str(caught.value)
