"""Our config tool against SCST's own scstadmin (issue 20): the same scst.conf, applied by each
to a fresh tree of ours, gives the same tree, and both ``-write_config`` outputs are the same
file apart from the header line.

The samples (``scst_conf_samples/``) are shaped like real files: a storage server with CHAP
and per-host groups, nullio devices of several sizes, a terse file with one-line blocks,
``scst_local``, CD-ROM images with a block device, staging targets with tuned keys, ALUA
device groups with target groups (local targets, remote ports with their ``rel_tgt_id``, an
empty target group), the copy manager block every SCST 3.x ``-write_config`` saves (with a
LUN at a number the copy manager of a new tree does not give that device).  Trees are compared entry by entry (every file's content, every
directory and link; a device's export links as a set, see :mod:`.tree_snapshot`).  Each tool also applies the sample once more on
the tree the *other* tool made and must find nothing to change, and the file Perl saves is
applied by both tools on fresh trees and must give the tree it was saved from (saved with
``-nonkey``, the same tree for both tools).  The two tools' ``-nonkey`` files are not the
same: scstadmin's also lists read-only creation parameters, a LUN's ``read_only 0``, a
group's settings and, in each HANDLER block, its devices' names with no value.

Where SCST's scstadmin reads a file otherwise than its text says (a statement on the line of
a block's closing brace, a brace on a line of its own, a ``#`` right after a value), our tool
refuses the file with its line instead of guessing; those cases are shown at the end, with
what Perl makes of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .perl_equivalence import (
    SAMPLES_DIRECTORY,
    changes_made,
    materialize,
    ours,
    perl,
    without_header,
)
from .perl_scstadmin import perl_unavailable
from .scst_mount import MountedScst, fuse_unavailable, mounted_scst
from .test_config_apply import loop_device  # noqa: F401  (vdisk_blockio needs one)
from .tree_snapshot import difference, snapshot

pytestmark = pytest.mark.skipif(perl_unavailable() is not None,
                                reason=str(perl_unavailable()))

SAMPLES = sorted(SAMPLES_DIRECTORY.glob("*.conf"))


def test_there_are_samples_of_every_kind() -> None:
    text = "".join(sample.read_text() for sample in SAMPLES)
    for feature in ("size_mb", "IncomingUser", "OutgoingUser", "scst_local", "GROUP",
                    "INITIATOR", "vcdrom", "vdisk_blockio", "vdisk_fileio", "vdisk_nullio",
                    "read_only 1", "rel_tgt_id", "HeaderDigest", "{ }", "{}", "enabled 0",
                    "DEVICE_GROUP", "TARGET_GROUP", "state standby", "preferred 1",
                    "TARGET_DRIVER copy_manager", "copy_manager_tgt",
                    "allow_not_connected_copy 1"):
        assert feature in text, feature


@pytest.fixture
def two_trees() -> Iterator[tuple[MountedScst, MountedScst]]:
    """Two fresh trees of ours, mounted: one for each tool."""
    reason = fuse_unavailable()
    if reason:
        pytest.skip(reason)
    with mounted_scst() as first, mounted_scst() as second:
        yield first, second


def sample_file(sample: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    block = request.getfixturevalue("loop_device") if "@BLOCK@" in sample.read_text() else None
    return materialize(sample, tmp_path, block)


def assert_same_tree(perl_tree: MountedScst, our_tree: MountedScst) -> None:
    made_by_perl, made_by_us = snapshot(perl_tree.root), snapshot(our_tree.root)
    assert made_by_perl == made_by_us, "trees differ:\n" + difference(made_by_perl,
                                                                       made_by_us)


def assert_same_file(perl_saved: Path, our_saved: Path) -> None:
    expected, got = without_header(perl_saved.read_text()), without_header(
        our_saved.read_text())
    assert got == expected, "saved files differ:\n" + "".join(difflib.unified_diff(
        expected.splitlines(keepends=True), got.splitlines(keepends=True), "perl", "ours"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_both_tools_make_the_same_tree_and_save_the_same_file(
        two_trees: tuple[MountedScst, MountedScst], tmp_path: Path,
        request: pytest.FixtureRequest, sample: Path) -> None:
    perl_tree, our_tree = two_trees
    config = sample_file(sample, tmp_path, request)

    empty = snapshot(perl_tree.root)
    checked = perl(perl_tree, "-check_config", str(config))
    assert checked.status == 0 and "-> Done, 0 warnings found." in checked.output, (
        checked.output)
    assert ours(our_tree, "-check_config", str(config)).status == 0
    assert snapshot(perl_tree.root) == empty == snapshot(our_tree.root)

    by_perl = perl(perl_tree, "-config", str(config), "-noprompt")
    assert by_perl.status == 0 and "All done." in by_perl.output, by_perl.output
    assert "WARNING" not in by_perl.output, by_perl.output
    by_us = ours(our_tree, "-config", str(config), "-noprompt")
    assert by_us.status == 0, by_us.output
    assert changes_made(by_us.output) > 0
    assert_same_tree(perl_tree, our_tree)

    perl_saved, our_saved = tmp_path / "perl-saved.conf", tmp_path / "our-saved.conf"
    saving = perl(perl_tree, "-write_config", str(perl_saved))
    assert saving.status == 0, saving.output
    assert ours(our_tree, "-write_config", str(our_saved)).status == 0
    assert_same_file(perl_saved, our_saved)

    # Each tool applies the file again on the tree the other one made, and nothing changes.
    # (Perl may still count writes: it compares values as text, so it writes HeaderDigest
    # "CRC32C,None" again over the "None,CRC32C" that iSCSI-SCST shows, as on SCST.)
    again_by_perl = perl(our_tree, "-config", str(config), "-noprompt")
    assert again_by_perl.status == 0, again_by_perl.output
    again_by_us = ours(perl_tree, "-config", str(config), "-noprompt")
    assert again_by_us.status == 0 and changes_made(again_by_us.output) == 0, again_by_us.output
    assert_same_tree(perl_tree, our_tree)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_the_file_perl_saves_rebuilds_the_tree_with_either_tool(
        two_trees: tuple[MountedScst, MountedScst], tmp_path: Path,
        request: pytest.FixtureRequest, sample: Path) -> None:
    original, _ = two_trees
    config = sample_file(sample, tmp_path, request)
    assert perl(original, "-config", str(config), "-noprompt").status == 0
    saved = tmp_path / "saved.conf"
    assert perl(original, "-write_config", str(saved)).status == 0

    with mounted_scst() as perl_tree, mounted_scst() as our_tree:
        by_perl = perl(perl_tree, "-config", str(saved), "-noprompt")
        assert by_perl.status == 0, by_perl.output
        by_us = ours(our_tree, "-config", str(saved), "-noprompt")
        assert by_us.status == 0, by_us.output
        assert_same_tree(original, perl_tree)
        assert_same_tree(original, our_tree)
        resaved = tmp_path / "resaved.conf"
        assert ours(our_tree, "-write_config", str(resaved)).status == 0
        assert_same_file(saved, resaved)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
def test_the_file_perl_saves_with_nonkey_gives_either_tool_the_same_tree(
        two_trees: tuple[MountedScst, MountedScst], tmp_path: Path,
        request: pytest.FixtureRequest, sample: Path) -> None:
    """``-nonkey`` adds every settable value and the creation parameters that were left at
    their defaults (so a ``t10_dev_id`` comes back marked ``[key]``, on SCST too): the tree
    it gives is not quite the one it was saved from, but both tools must make the same."""
    original, _ = two_trees
    config = sample_file(sample, tmp_path, request)
    assert perl(original, "-config", str(config), "-noprompt").status == 0
    saved = tmp_path / "saved-nonkey.conf"
    assert perl(original, "-write_config", str(saved), "-nonkey").status == 0
    assert "# Non-key attributes" in saved.read_text()

    with mounted_scst() as perl_tree, mounted_scst() as our_tree:
        by_perl = perl(perl_tree, "-config", str(saved), "-noprompt")
        assert by_perl.status == 0, by_perl.output
        by_us = ours(our_tree, "-config", str(saved), "-noprompt")
        assert by_us.status == 0, by_us.output
        assert_same_tree(perl_tree, our_tree)


# -- what SCST's scstadmin reads otherwise than the text says ---------------------------------

MISREAD = {
    # the statement before '}' on its line is dropped: the disk gets SCST's default size
    "statement_before_brace": ("HANDLER vdisk_nullio {\n\tDEVICE n1 { size_mb 16 }\n}\n", 2,
                               "devices/n1/size", "2748779069440\n"),
    # a block whose '{' stands on a line of its own is ignored, the device made without it
    "brace_on_its_own_line": ("HANDLER vdisk_nullio {\n\tDEVICE n1\n\t{\n\t\tsize_mb 16\n"
                              "\t}\n}\n", 3, "devices/n1/size", "2748779069440\n"),
    # scst.conf(5): the character before a comment's '#' goes with the comment
    "hash_after_a_value": ("setup_id 0x2a# the lab's id\nHANDLER vdisk_nullio {\n"
                           "\tDEVICE n1\n}\n", 1, "setup_id", "0x2\n[key]\n"),
}


@pytest.mark.parametrize("case", sorted(MISREAD))
def test_what_scstadmin_misreads_our_tool_refuses_with_its_line(
        two_trees: tuple[MountedScst, MountedScst], tmp_path: Path, case: str) -> None:
    text, line, path, perl_value = MISREAD[case]
    perl_tree, our_tree = two_trees
    config = tmp_path / f"{case}.conf"
    config.write_text(text)

    by_perl = perl(perl_tree, "-config", str(config), "-noprompt")
    assert by_perl.status == 0, by_perl.output
    assert (perl_tree.root / path).read_text() == perl_value  # what SCST's tool makes of it

    before = snapshot(our_tree.root)
    by_us = ours(our_tree, "-config", str(config), "-noprompt")
    assert by_us.status == 1
    assert f"{config}:{line}: " in by_us.output, by_us.output
    assert snapshot(our_tree.root) == before
