"""The config tool asks the tree each question once per command: every directory listed once
(the listing says what is a file, a directory or a link), every file read once, whatever
the configuration's size, and all of it forgotten at the next write.  And the tree finds
one entry of a big directory the way it lists them all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs import snapshot_xattr
from tcmu_scst.compat_sysfs.nodes import Directory, ObjectDirectory
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.apply import Applier
from tcmu_scst.config.directory_entries import Entry
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.running import read_running
from tcmu_scst.config.scst_conf import format_config, parse
from tcmu_scst.config.sysfs import AttributeValue, FileAccess, ScstSysfs
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst

IQN = "iqn.2026-12.org.example:reads"


class CountingAccess(FileAccess):
    """The file system, counting each call by (operation, path)."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.calls: Counter[tuple[str, str]] = Counter()

    def kind(self, relative: str) -> str | None:
        self.calls["kind", relative] += 1
        return super().kind(relative)

    def scan(self, relative: str) -> dict[str, str]:
        self.calls["scan", relative] += 1
        return super().scan(relative)

    def mode(self, relative: str) -> int:
        self.calls["mode", relative] += 1
        return super().mode(relative)

    def read(self, relative: str) -> str:
        self.calls["read", relative] += 1
        return super().read(relative)

    def readlink(self, relative: str) -> str:
        self.calls["readlink", relative] += 1
        return super().readlink(relative)

    def snapshot(self, relative: str):  # type: ignore[no-untyped-def]
        self.calls["snapshot", relative] += 1
        return super().snapshot(relative)

    def read_many(self, relative: str, names: list[str]) -> dict[str, str | OSError]:
        if len(names) < 2:  # (read one by one, through read)
            return super().read_many(relative, names)
        for name in names:
            self.calls["read", f"{relative}/{name}".strip("/")] += 1
        return super().read_many(relative, names)


def configuration(count: int) -> str:
    devices = "".join(f"\tDEVICE null{n} {{\n\t\tt10_dev_id id-{n}\n\t}}\n" for n in range(count))
    targets = "".join(
        f"\tTARGET {IQN}-{n} {{\n\t\tenabled 1\n\t\tLUN 0 null{n}\n"
        f"\t\tGROUP hosts {{\n\t\t\tINITIATOR iqn.i:host-{n}\n\t\t\tLUN 0 null{n}\n\t\t}}\n\t}}\n"
        for n in range(count))
    return (f"HANDLER vdisk_nullio {{\n{devices}}}\n"
            f"TARGET_DRIVER iscsi {{\n\tenabled 1\n{targets}}}\n")


@pytest.mark.parametrize("count", [3, 30])
def test_a_no_op_apply_asks_each_question_once(tree: MountedScst, count: int) -> None:
    """On our mount a directory and what fits below it is one request (its snapshot:
    listings, texts, modes and links' targets together): a small tree is one snapshot of
    the root, a larger one a few per target.  Only the help texts, which snapshots leave
    out, are read, each once."""
    config = parse(configuration(count))
    assert Applier(ScstSysfs(tree.root)).apply(config) > 0
    access = CountingAccess(tree.root)
    applier = Applier(ScstSysfs(tree.root, access=access))
    assert applier.apply(config) == 0
    repeated = {call: count for call, count in access.calls.items() if count > 1}
    assert repeated == {}
    assert {what for what, _ in access.calls} == {"snapshot", "read"}
    assert all(path.endswith("mgmt") for what, path in access.calls if what == "read")
    assert len([path for (what, path) in access.calls
                if what == "read" and path.endswith("luns/mgmt")]) == 1
    snapshots = [path for what, path in access.calls if what == "snapshot"]
    if count == 3:
        assert snapshots == [""]
    else:  # a device, a target and a copy manager's LUN: some nested, none more than once
        assert count < len(snapshots) <= 3 * count


class PerFileAccess(CountingAccess):
    """A tree without snapshots (SCST's sysfs): every file read on its own."""

    def snapshot(self, relative: str) -> None:
        return None


def test_a_no_op_apply_reads_only_what_it_compares(tree: MountedScst) -> None:
    """Where each file is a read of its own (SCST's sysfs, or a mount without snapshots): a
    running target has a score of files -config never compares (its iSCSI keys, tid,
    rel_tgt_id ...) and a device a few more: reading them made a no-op apply of 100 targets
    cost 18,000 requests instead of 8,000.  What it sets it reads where it sets it; a
    device's creation parameters are read (they decide a re-creation), the rest are not."""
    config = parse(configuration(2))
    Applier(ScstSysfs(tree.root)).apply(config)
    ScstSysfs(tree.root).write("targets/iscsi/mgmt",
                               f"add_target_attribute {IQN}-0 IncomingUser joe 12charsecret")
    access = PerFileAccess(tree.root)
    applier = Applier(ScstSysfs(tree.root, access=access), force=True)
    applier.apply(config)  # the account the file lacks is removed with -force (dynamic
    # attributes are found by their names; the copy manager's LUNs go too, no block for them)
    assert [write.text for write in applier.writes if write.path == "targets/iscsi/mgmt"] == [
        f"del_target_attribute {IQN}-0 IncomingUser joe 12charsecret"]
    read = {path for (what, path) in access.calls if what == "read"}
    target = f"targets/iscsi/{IQN}-1"
    assert f"{target}/enabled" in read and f"{target}/luns/0/read_only" in read
    assert not {f"{target}/MaxBurstLength", f"{target}/tid", f"{target}/rel_tgt_id",
                f"{target}/ini_groups/hosts/io_grouping_type"} & read
    assert {"devices/null1/blocksize", "devices/null1/t10_dev_id"} <= read
    assert "devices/null1/prod_id" not in read


def test_a_write_forgets_and_outside_a_scope_nothing_is_kept(tree: MountedScst) -> None:
    access = CountingAccess(tree.root)
    sysfs = ScstSysfs(tree.root, access=access)
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1")
    with sysfs.cached():
        assert sysfs.read("devices/n1/t10_dev_id") == sysfs.read("devices/n1/t10_dev_id")
        assert access.calls["snapshot", "devices/n1"] == 1
        sysfs.write("devices/n1/t10_dev_id", "changed")
        assert sysfs.attribute("devices/n1/t10_dev_id").value == "changed"
        # after a write one entry is asked of itself (a listing could be a thousand targets)
        assert access.calls["snapshot", "devices/n1"] == 1
        assert access.calls["read", "devices/n1/t10_dev_id"] == 1
        assert "n2" not in sysfs.entries("devices")
        sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n2")
        assert "n2" in sysfs.entries("devices")
    ScstSysfs(tree.root).write("devices/n1/t10_dev_id", "by someone else")
    assert sysfs.attribute("devices/n1/t10_dev_id").value == "by someone else"
    assert sysfs.attribute("devices/n1/t10_dev_id").value == "by someone else"
    assert access.calls["read", "devices/n1/t10_dev_id"] == 3


def populate(tree: MountedScst, disk: Path) -> None:
    """A device of each kind, a target with a CHAP account, LUNs, a group, a local target."""
    sysfs = ScstSysfs(tree.root)
    disk.write_bytes(bytes(1 << 20))
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device f1 filename={disk}")
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1")
    sysfs.write("targets/iscsi/mgmt", f"add_target {IQN}")
    sysfs.write("targets/iscsi/mgmt", f"add_target_attribute {IQN} IncomingUser joe 12charsecret")
    sysfs.write(f"targets/iscsi/{IQN}/luns/mgmt", "add n1 3")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/mgmt", "create g")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/g/luns/mgmt", "add f1 0")
    sysfs.write("targets/scst_local/mgmt", "add_target local session_name=s1")


@pytest.mark.parametrize("budget", [snapshot_xattr.NESTED_BUDGET, 1500])
def test_a_snapshot_shows_what_reading_entry_by_entry_shows(
        tree: MountedScst, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    """Every entry of every directory, nested ones included, as a listing, a stat(), a read
    and a readlink() show it: the whole tree in one answer, or (a small budget) in many."""
    monkeypatch.setattr(snapshot_xattr, "NESTED_BUDGET", budget)
    populate(tree, tmp_path / "disk")
    plain = FileAccess(tree.root)
    held = FileAccess(tree.root)
    held.hold()
    checked = {"asked": 0, "nested": 0, "entries": 0}

    def compare(directory: str, snapshot: dict[str, Entry] | None) -> None:
        assert snapshot is not None, directory
        assert {name: entry.kind for name, entry in snapshot.items()} == plain.scan(directory)
        for name, entry in snapshot.items():
            path = f"{directory}/{name}".lstrip("/")
            assert entry.mode == os.lstat(tree.root / path).st_mode, path
            checked["entries"] += 1
            if entry.kind == "dir":
                if isinstance(entry.shown, dict):
                    checked["nested"] += 1
                    compare(path, entry.shown)
                else:
                    checked["asked"] += 1
                    compare(path, held.snapshot(path))
            elif entry.kind == "link":
                assert entry.shown == plain.readlink(path), path
            elif name == "mgmt":
                assert entry.shown is None
            elif isinstance(entry.shown, OSError):
                with pytest.raises(OSError) as refused:
                    plain.read(path)
                assert refused.value.errno == entry.shown.errno, path
            else:
                assert entry.shown == plain.read(path), path

    compare("", held.snapshot(""))
    held.release()
    assert checked["entries"] > 100 and checked["nested"] > 10
    assert (checked["asked"] > 10) == (budget < snapshot_xattr.NESTED_BUDGET)


def test_a_tree_without_snapshots_is_read_entry_by_entry(tmp_path: Path) -> None:
    """SCST's sysfs has no such extended attribute: the first refusal switches them off."""
    (tmp_path / "handlers").mkdir()
    (tmp_path / "targets").mkdir()
    (tmp_path / "devices" / "d1").mkdir(parents=True)
    (tmp_path / "devices" / "d1" / "t10_dev_id").write_text("abc\n[key]\n")
    (tmp_path / "devices" / "d1" / "handler").symlink_to("../../handlers")
    sysfs = ScstSysfs(tmp_path)
    with sysfs.cached():
        assert sysfs.attribute("devices/d1/t10_dev_id") == AttributeValue("abc", True)
        assert sysfs.link_target("devices/d1/handler") == "../../handlers"
        assert sysfs.access.snapshot("devices") is None


def test_a_directory_too_large_for_one_snapshot_is_read_entry_by_entry(
        tree: MountedScst, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    populate(tree, tmp_path / "disk")
    whole, _ = read_running(ScstSysfs(tree.root))
    monkeypatch.setattr(snapshot_xattr, "XATTR_SIZE_MAX", 200)  # the daemon's side: E2BIG
    access = CountingAccess(tree.root)
    piecewise, _ = read_running(ScstSysfs(tree.root, access=access))
    assert format_config(piecewise) == format_config(whole)
    assert access.calls["read", f"targets/iscsi/{IQN}/enabled"] == 1  # read on its own


def test_write_config_reads_the_same_through_the_mount_and_in_process(
        tree: MountedScst) -> None:
    Applier(ScstSysfs(tree.root)).apply(parse(configuration(2)))
    mounted, _ = read_running(ScstSysfs(tree.root))
    in_process, _ = read_running(ScstSysfs("/", access=InProcessAccess(tree.system.tree)))
    assert format_config(mounted) == format_config(in_process)
    assert "t10_dev_id id-1" in format_config(mounted)


def directories(directory: Directory, path: str = "") -> list[tuple[str, Directory]]:
    found = [(path or "/", directory)]
    for name, child in directory.entries().items():
        if isinstance(child, Directory):
            found += directories(child, f"{path}/{name}")
    return found


def test_one_entry_is_found_as_the_listing_shows_it(tmp_path: Path) -> None:
    system = ScstSystem(RecordingRealizer())
    disk = tmp_path / "disk"
    disk.write_bytes(bytes(1 << 20))
    write = system.tree.write
    write("/handlers/vdisk_fileio/mgmt", f"add_device f1 filename={disk}")
    write("/handlers/vdisk_nullio/mgmt", "add_device n1")
    write("/targets/iscsi/mgmt", f"add_target {IQN}")
    write("/targets/iscsi/mgmt", f"add_target_attribute {IQN} IncomingUser joe 12charsecret")
    write("/targets/iscsi/mgmt", "add_attribute IncomingUser disc 12charsecret")
    write(f"/targets/iscsi/{IQN}/luns/mgmt", "add n1 3")
    write(f"/targets/iscsi/{IQN}/ini_groups/mgmt", "create g")
    write(f"/targets/iscsi/{IQN}/ini_groups/g/luns/mgmt", "add f1 0")
    write("/targets/scst_local/mgmt", "add_target local session_name=s1")
    checked = 0
    for path, directory in directories(system.tree.root):
        entries = directory.entries()
        for name, node in entries.items():
            found = directory.child(name)
            assert type(found) is type(node) and found.mode == node.mode, f"{path}/{name}"
        for missing in ("absent", "03", "mgmt2"):
            assert (directory.child(missing) is None) == (missing not in entries), path
        assert directory.subdirectory_count() == sum(
            isinstance(node, Directory) for node in entries.values()), path
        checked += isinstance(directory, ObjectDirectory)
    assert checked >= 6  # devices, both handlers, both drivers, groups, both LUN sets


def test_the_config_tool_starts_without_loading_the_tree_or_the_handlers() -> None:
    """Every ``tcmu-scst-admin`` run is a new process: loading the tree and the handlers
    cost it a fifth of a second per command, more than a no-op apply of 100 targets spends
    reading (and five seconds in a TCG guest).  The words it shares with the tree come from
    compat_sysfs.names; of LIO it needs the access rules alone."""
    probe = ("import sys, tcmu_scst.config.cli\n"
             "print(sorted(name for name in sys.modules if name.startswith("
             "('tcmu_scst.compat_sysfs.', 'tcmu_scst.handlers', 'tcmu_scst.dataplane', "
             "'tcmu_scst.lio.'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "['tcmu_scst.compat_sysfs.names', 'tcmu_scst.lio.access_plan']"
