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
  TARGET_DRIVER section is refused, both as scstadmin does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import RecordingRealizer
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config import cli
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import ConfigError, format_config, parse
from tcmu_scst.config.sysfs import ScstSysfs

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
