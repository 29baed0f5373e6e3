"""The config tool's ALUA part: DEVICE_GROUP blocks parsed (refused with FILE:LINE where
scstadmin's tree would refuse them), written in scstadmin's layout, applied (only the
differences; removals only with force), checked, cleared, and kept by the daemon's saver.
The tree is ours, in this process, over a recording realizer; the CLI's ALUA commands run
on it mounted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import AluaLayout, AluaPort, AluaTargetGroup
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config import cli
from tcmu_scst.config.apply import Applier, clear
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import ConfigError, format_config, parse
from tcmu_scst.config.sysfs import ScstSysfs
from tcmu_scst.daemon.persistence import Persistence

from .scst_mount import MountedScst
from .test_device_groups import Realizer, alua, tree_state

A, B, REMOTE = "iqn.2024-01.test:a", "iqn.2024-01.test:b", "iqn.2024-01.test:remote"
DEVICES_AND_TARGETS = f"""\
HANDLER vdisk_nullio {{
\tDEVICE n1
\tDEVICE n2
\tDEVICE n3
}}

TARGET_DRIVER iscsi {{
\tTARGET {A} {{
\t\tLUN 0 n1
\t}}
\tTARGET {B} {{
\t\tLUN 0 n2
\t}}
}}
"""
GROUPS = f"""\
DEVICE_GROUP dg1 {{
\tDEVICE n1
\tDEVICE n2

\tTARGET_GROUP local {{
\t\tgroup_id 1
\t\tpreferred 1
\t\tstate active

\t\tTARGET {A}
\t}}

\tTARGET_GROUP other {{
\t\tgroup_id 2
\t\tstate standby

\t\tTARGET {B}
\t\tTARGET {REMOTE} {{
\t\t\trel_tgt_id 7
\t\t}}
\t}}
}}

DEVICE_GROUP dg2 {{
\tDEVICE n3
}}
"""
CONF = DEVICES_AND_TARGETS + "\n" + GROUPS


@pytest.fixture
def system() -> ScstSystem:
    return ScstSystem(Realizer())


def sysfs_of(system: ScstSystem) -> ScstSysfs:
    return ScstSysfs("/", access=InProcessAccess(system.tree))


def sent(system: ScstSystem) -> list[tuple]:
    """The set_alua calls the system's realizer took since the last look."""
    assert isinstance(system.realizer, Realizer)
    return alua(system.realizer)


def apply(system: ScstSystem, text: str, **options: bool) -> Applier:
    applier = Applier(sysfs_of(system), **options)
    applier.apply(parse(text, "test.conf"), "test.conf")
    return applier


def test_device_group_blocks_are_parsed_into_the_model() -> None:
    config = parse(CONF)
    dg1 = config.device_groups["dg1"]
    assert dg1.devices == ["n1", "n2"]
    lines = CONF.splitlines()
    assert dg1.device_lines["n2"] == lines.index("\tDEVICE n2", lines.index("DEVICE_GROUP dg1 {")) + 1
    assert list(dg1.target_groups) == ["local", "other"]
    other = dg1.target_groups["other"]
    assert other.attributes.single() == {"group_id": "2", "state": "standby"}
    assert list(other.targets) == [B, REMOTE]
    assert other.targets[REMOTE].attributes.single() == {"rel_tgt_id": "7"}
    assert not other.targets[B].attributes
    assert config.device_groups["dg2"].devices == ["n3"]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("DEVICE_GROUP d {\n\tDEVICE n1\n}\nDEVICE_GROUP e {\n\tDEVICE n1\n}\n", 5,
     "one device group at most"),
    ("DEVICE_GROUP d {\n\tDEVICE n1\n\tDEVICE n1\n}\n", 3, "one device group at most"),
    ("DEVICE_GROUP d {\n\tTARGET_GROUP t {\n\t\tTARGET x\n\t}\n\tTARGET_GROUP u {\n"
     "\t\tTARGET x\n\t}\n}\n", 6, "one target group"),
    ("DEVICE_GROUP d {\n\tTARGET_GROUP t\n\tTARGET_GROUP t\n}\n", 3, "appears twice"),
    ("DEVICE_GROUP d\nDEVICE_GROUP d\n", 2, "appears twice"),
    ("DEVICE_GROUP d {\n\tDEVICE n1 {\n\t\tsize 1\n\t}\n}\n", 2, "HANDLER block"),
    ("DEVICE_GROUP d {\n\tTARGET_GROUP t {\n\t\tstate active standby\n\t}\n}\n", 3,
     "more than one value"),
])
def test_malformed_device_groups_are_refused_with_their_line(text: str, line: int,
                                                             words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text, "x.conf")
    assert caught.value.line == line and words in caught.value.message


def test_written_in_scstadmins_layout_and_read_back_alike() -> None:
    config = parse(CONF)
    text = format_config(config, header="")
    assert text.endswith(GROUPS + "\n")  # the blocks as scstadmin lays them out (and its
    # empty last line)
    assert parse(text) == config
    empty = parse("DEVICE_GROUP lonely\n")
    assert "lonely" not in format_config(empty)  # scstadmin leaves it out ...
    kept = format_config(empty, keep_empty=True)  # ... the daemon's own file keeps it
    assert "DEVICE_GROUP lonely {\n}\n" in kept and parse(kept) == empty


def layout_dg1(a_id: int = 0, b_id: int = 0) -> AluaLayout:
    return AluaLayout("dg1", (
        AluaTargetGroup("local", 1, "active", True, (AluaPort(A, a_id, "iscsi"),)),
        AluaTargetGroup("other", 2, "standby", False,
                        (AluaPort(B, b_id, "iscsi"), AluaPort(REMOTE, 7)))))


def test_apply_makes_the_groups_and_a_second_apply_writes_nothing(system: ScstSystem) -> None:
    applier = apply(system, CONF)
    assert not applier.warnings and not applier.errors
    assert dict(sent(system)) == {"n1": layout_dg1(), "n2": layout_dg1(), "n3": AluaLayout("dg2")}
    running, _ = read_running(sysfs_of(system))
    assert running.device_groups == parse(CONF).device_groups
    assert apply(system, CONF).writes == []
    assert sent(system) == []


def test_groups_are_applied_after_targets_and_before_they_are_enabled(
        system: ScstSystem) -> None:
    enabled = CONF.replace("\t\tLUN 0 n2\n", "\t\tLUN 0 n2\n\t\tenabled 1\n")
    writes = [write.path for write in apply(system, enabled).writes]
    first_group = writes.index("device_groups/mgmt")
    assert writes.index("targets/iscsi/mgmt") < first_group
    assert writes.index(f"targets/iscsi/{B}/enabled") > first_group
    assert sent(system)[-1] == ("n2", layout_dg1(b_id=1))


def test_check_config_lists_the_writes_and_changes_nothing(system: ScstSystem) -> None:
    apply(system, DEVICES_AND_TARGETS)
    before = tree_state(system)
    sent(system)
    writes = apply(system, CONF, dry_run=True).writes
    assert [(write.path, write.text) for write in writes][:3] == [
        ("device_groups/mgmt", "create dg1"), ("device_groups/dg1/devices/mgmt", "add n1"),
        ("device_groups/dg1/devices/mgmt", "add n2")]
    assert ("device_groups/dg1/target_groups/other/state", "standby") in [
        (write.path, write.text) for write in writes]
    assert tree_state(system) == before and sent(system) == []


SHRUNK = DEVICES_AND_TARGETS + f"""
DEVICE_GROUP dg1 {{
\tDEVICE n1

\tTARGET_GROUP local {{
\t\tgroup_id 1
\t\tpreferred 1
\t\tstate active

\t\tTARGET {A}
\t}}
}}
"""


def test_what_the_file_lacks_is_removed_only_with_force(system: ScstSystem) -> None:
    apply(system, CONF)
    before = tree_state(system)
    applier = apply(system, SHRUNK)
    assert applier.writes == [] and tree_state(system) == before
    assert sorted(applier.warnings) == [
        "device group dg2 is not in the configuration; use -force to remove it",
        "device n2 of device group dg1 is not in the configuration; use -force to remove it",
        "target group dg1/other is not in the configuration; use -force to remove it"]
    applier = apply(system, SHRUNK, force=True)
    # (the file has no copy_manager block: -force deletes the copy manager's LUNs too, as
    # scstadmin does; test_config_copy_manager shows that)
    assert [(write.path, write.text) for write in applier.writes
            if not write.path.startswith("targets/copy_manager/")] == [
        ("device_groups/dg1/devices/mgmt", "del n2"),
        ("device_groups/dg1/target_groups/mgmt", "del other"), ("device_groups/mgmt", "del dg2")]
    running, _ = read_running(sysfs_of(system))
    assert running.device_groups == parse(SHRUNK).device_groups


MOVED = DEVICES_AND_TARGETS + "\n" + GROUPS.replace("\tDEVICE n2\n", "") \
    .replace("\tDEVICE n3\n", "\tDEVICE n2\n\tDEVICE n3\n") \
    .replace(f"\t\tTARGET {A}\n", f"\t\tTARGET {A}\n\t\tTARGET {B}\n") \
    .replace(f"\t\tTARGET {B}\n\t\tTARGET {REMOTE}", f"\t\tTARGET {REMOTE}")


def test_a_device_or_target_moves_to_another_group_only_with_force(
        system: ScstSystem) -> None:
    apply(system, CONF)
    before = tree_state(system)
    with pytest.raises(ConfigError) as caught:
        apply(system, MOVED)
    assert caught.value.line == MOVED.splitlines().index(f"\t\tTARGET {B}") + 1
    assert "use -force to move it to local" in caught.value.message
    with pytest.raises(ConfigError) as caught:  # the device alone
        apply(system, MOVED.replace(f"\t\tTARGET {B}\n", "", 1))
    assert "device n2 is in device group dg1; use -force to move it to dg2" in str(caught.value)
    assert tree_state(system) == before
    apply(system, MOVED, force=True)
    running, _ = read_running(sysfs_of(system))
    assert running.device_groups == parse(MOVED).device_groups


@pytest.mark.parametrize(("text", "words"), [
    (DEVICES_AND_TARGETS + "DEVICE_GROUP d {\n\tDEVICE nothing\n}\n",
     "device 'nothing' is not defined"),
    (DEVICES_AND_TARGETS + "ALUA {\n\tfrobnicate 1\n}\n", "has no attribute 'frobnicate'"),
    (CONF.replace("\t\tstate standby\n", "\t\tstat standby\n"), "has no attribute 'stat'"),
    (CONF.replace("DEVICE_GROUP dg2 {\n", "DEVICE_GROUP dg2 {\n\tcolour blue\n"),
     "has no attribute 'colour'"),
])
def test_what_the_tree_would_refuse_is_refused_before_any_write(system: ScstSystem,
                                                                text: str, words: str) -> None:
    apply(system, CONF)
    before = tree_state(system)
    applier = Applier(sysfs_of(system))
    with pytest.raises(ConfigError) as caught:
        applier.apply(parse(text, "x.conf"), "x.conf")
    assert words in caught.value.message and caught.value.line > 0
    assert applier.writes == [] and tree_state(system) == before


def test_a_local_targets_attributes_go_to_the_target(system: ScstSystem) -> None:
    text = CONF.replace(f"\t\tTARGET {A}\n", f"\t\tTARGET {A} {{\n\t\t\trel_tgt_id 5\n\t\t}}\n")
    apply(system, text)
    assert system.tree.read(f"/targets/iscsi/{A}/rel_tgt_id") == "5\n[key]\n"
    assert dict(sent(system))["n2"] == layout_dg1(a_id=5)


def test_clear_deletes_every_device_group(system: ScstSystem) -> None:
    apply(system, CONF)
    writes = clear(sysfs_of(system))
    assert [(write.path, write.text) for write in writes[:2]] == [
        ("device_groups/mgmt", "del dg1"), ("device_groups/mgmt", "del dg2")]
    assert system.tree.listdir("/device_groups") == ["mgmt"]
    assert system.tree.listdir("/devices") == []


def test_the_daemons_file_brings_the_groups_back(system: ScstSystem, tmp_path: Path) -> None:
    apply(system, CONF)
    system.tree.write("/device_groups/mgmt", "create empty")
    saved = tmp_path / "scst.conf"
    Persistence(system.tree, str(saved)).save()
    assert "DEVICE_GROUP empty {\n}" in saved.read_text()
    fresh = ScstSystem(Realizer())
    assert Persistence(fresh.tree, str(saved)).restore()
    assert tree_state(fresh) == tree_state(system)
    assert dict(sent(fresh)) == {"n1": layout_dg1(), "n2": layout_dg1(),
                                 "n3": AluaLayout("dg2")}


def test_our_cli_offers_scstadmins_alua_commands(tree: MountedScst,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tree.root / "handlers/vdisk_nullio/mgmt").write_text("add_device n1\n")
    (tree.root / "targets/iscsi/mgmt").write_text(f"add_target {A}\n")

    def run(*arguments: str) -> str:
        capsys.readouterr()
        assert cli.main(["--root", str(tree.root), *arguments]) == 0
        return capsys.readouterr().out

    group, target_group = ["-dev_group", "dg1"], ["-dev_group", "dg1", "-tgt_group", "tg1"]
    run("-add_dgrp", "dg1")
    run("-add_dgrp_dev", "n1", *group)
    run("-add_tgrp", "tg1", *group)
    run("-add_tgrp_tgt", A, *target_group)
    run("-add_tgrp_tgt", REMOTE, *target_group)
    run("-set_tgrp_attr", "tg1", *group, "-attributes", "state=offline,group_id=9")
    run("-set_ttgt_attr", REMOTE, *target_group, "-attributes", "rel_tgt_id=3")
    run("-set_ttgt_attr", A, *target_group, "-attributes", "rel_tgt_id=4")  # the target's own
    assert (tree.root / f"targets/iscsi/{A}/rel_tgt_id").read_text() == "4\n[key]\n"
    assert tree.realizer.calls[-1] == ("set_alua", ("n1", AluaLayout("dg1", (AluaTargetGroup(
        "tg1", 9, "offline", False, (AluaPort(A, 4, "iscsi"), AluaPort(REMOTE, 3))),))))
    assert "\tdg1\n" in run("-list_dgrp")
    listed = run("-list_tgrp", "tg1", *group)
    assert re.search(rf"\t{re.escape(A)}\s+local\n", listed)
    assert re.search(rf"\t{re.escape(REMOTE)}\s+remote\n", listed)
    assert re.search(r"\tstate\s+offline\s+Yes\s+Yes\n", run("-list_tgrp_attr", "tg1", *group))
    assert re.search(r"\trel_tgt_id\s+3\s+Yes\s+Yes\n",
                     run("-list_ttgt_attr", REMOTE, *target_group))
    # removals that take members with them wait for -force, as in scstadmin
    assert cli.main(["--root", str(tree.root), "-rem_dgrp", "dg1"]) == 1
    assert cli.main(["--root", str(tree.root), "-rem_tgrp", "tg1", *group]) == 1
    assert "still in use" in capsys.readouterr().err
    run("-rem_tgrp_tgt", REMOTE, *target_group)
    run("-rem_dgrp_dev", "n1", *group, "-force")
    assert tree.realizer.calls[-1] == ("set_alua", ("n1", None))
    run("-rem_dgrp", "dg1", "-force")
    assert sorted(path.name for path in (tree.root / "device_groups").iterdir()) == ["mgmt"]


def test_a_remote_port_keeps_its_own_id_when_a_target_of_its_name_exists(
        system: ScstSystem) -> None:
    """SCST keeps a member remote that was added before a target of its name existed; the
    file's rel_tgt_id is the port's, not that target's."""
    apply(system, CONF)
    system.tree.write("/targets/iscsi/mgmt", f"add_target {REMOTE}")
    apply(system, CONF.replace("rel_tgt_id 7", "rel_tgt_id 8"))
    assert system.tree.read(f"/device_groups/dg1/target_groups/other/{REMOTE}/rel_tgt_id") == (
        "8\n[key]\n")
    assert system.tree.read(f"/targets/iscsi/{REMOTE}/rel_tgt_id") == "0\n"
