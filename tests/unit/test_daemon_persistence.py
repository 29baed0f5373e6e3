"""The daemon's saved configuration: every successful change through the mounted tree is
saved (atomically, 0600 with CHAP), restored into a new daemon's tree identically, and a
restart after SIGKILL clears the LIO objects the dead daemon left before restoring."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.sysfs import ScstSysfs, SysfsError
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.daemon.persistence import Persistence
from tcmu_scst.daemon.stale import clean_stale
from tcmu_scst.lio import create_user_backstore, list_backstores
from tcmu_scst.lio.snapshot import snapshot as lio_snapshot
from tcmu_scst.testing.lio import emulated_lio
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst
from .test_config_apply import snapshot
from .test_daemon_realizer import FakeSupervisor

IQN = "iqn.2024-03.org.example:persist"



def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def configure(sysfs: ScstSysfs, disk: Path) -> None:
    sysfs.write("handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}; blocksize=4096")
    sysfs.write("devices/disk1/t10_dev_id", "persist-id-1")
    sysfs.write("devices/disk1/usn", "usn0001")
    sysfs.write("handlers/vdisk_nullio/mgmt", "add_device null1")
    sysfs.write("targets/iscsi/mgmt", f"add_target {IQN}")
    sysfs.write("targets/iscsi/mgmt", f"add_target_attribute {IQN} IncomingUser joe 12charsecret")
    sysfs.write(f"targets/iscsi/{IQN}/luns/mgmt", "add disk1 0")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/mgmt", "create hosts")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/luns/mgmt", "add null1 0 read_only=1")
    sysfs.write(f"targets/iscsi/{IQN}/ini_groups/hosts/initiators/mgmt", "add iqn.i:host1")
    sysfs.write(f"targets/iscsi/{IQN}/enabled", "1")
    sysfs.write("targets/iscsi/enabled", "1")


def test_changes_are_saved_and_restored_identically(tree: MountedScst, tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(1 << 20))
    saved = tmp_path / "state" / "scst.conf"
    persistence = Persistence(tree.system.tree, str(saved), debounce=0.05)
    assert persistence.restore()  # no file yet: an empty start
    persistence.start()
    try:
        sysfs = ScstSysfs(tree.root)
        configure(sysfs, disk)
        wait_for(lambda: saved.exists() and "iqn.i:host1" in saved.read_text())
        with pytest.raises(SysfsError):  # a refused write changes nothing and saves nothing
            sysfs.write("handlers/vdisk_nullio/mgmt", "add_device null1")
    finally:
        persistence.stop()
    assert saved.stat().st_mode & 0o777 == 0o600  # it holds a CHAP secret
    text = saved.read_text()
    assert 'IncomingUser "joe 12charsecret"' in text and "t10_dev_id persist-id-1" in text
    assert not list(saved.parent.glob(".scst.conf.*"))  # no temporary file left
    before = snapshot(sysfs)
    assert before.pop("last_sysfs_mgmt_res") == "-17\n"  # the refused write's result, not config

    # a new daemon: a fresh tree, restored from the file before anyone sees it
    fresh = ScstSystem(RecordingRealizer())
    assert Persistence(fresh.tree, str(saved)).restore()
    restored = ScstSysfs("/", access=InProcessAccess(fresh.tree))
    after = snapshot(restored)
    assert after.pop("last_sysfs_mgmt_res") == "0\n"
    assert after == before, {path: (before.get(path), after.get(path))
                             for path in set(before) | set(after)
                             if before.get(path) != after.get(path)}
    for path in ("devices/disk1/t10_dev_id", "devices/disk1/usn", f"targets/iscsi/{IQN}/enabled",
                 f"targets/iscsi/{IQN}/IncomingUser", "targets/iscsi/enabled",
                 f"targets/iscsi/{IQN}/rel_tgt_id",
                 f"targets/iscsi/{IQN}/ini_groups/hosts/luns/0/read_only"):
        assert restored.read(path) == before[path], path


def test_a_save_reads_the_tree_in_process_while_a_write_is_served(tree: MountedScst,
                                                                  tmp_path: Path) -> None:
    """The saver must never go through the mount: a save triggered from inside a write
    (the tree's lock held) completes at once."""
    saved = tmp_path / "scst.conf"
    persistence = Persistence(tree.system.tree, str(saved), debounce=0.0)
    tree.system.tree.on_change = lambda _path: persistence.save()  # save inside the write
    ScstSysfs(tree.root).write("handlers/vdisk_nullio/mgmt", "add_device n1")
    assert "DEVICE n1" in saved.read_text()


def test_a_broken_saved_file_is_kept_and_nothing_restored(tmp_path: Path) -> None:
    saved = tmp_path / "scst.conf"
    saved.write_text("HANDLER vdisk_nullio {\n\tDEVICE n1\n")
    system = ScstSystem(RecordingRealizer())
    assert not Persistence(system.tree, str(saved)).restore()
    assert (tmp_path / "scst.conf.restore-failed").read_text() == saved.read_text()
    assert system.realizer.calls == []  # type: ignore[attr-defined]


def test_restart_after_sigkill_clears_the_leftovers_and_restores(tmp_path: Path) -> None:
    disk = tmp_path / "disk1"
    disk.write_bytes(bytes(8 << 20))
    fs = emulated_lio()
    foreign = create_user_backstore("someone_elses", 3, "other", "x", 1 << 20, configfs=fs)
    first = ScstSystem(LioRealizer(configfs=fs, supervisor=FakeSupervisor()))  # type: ignore[arg-type]
    saved = tmp_path / "scst.conf"
    persistence = Persistence(first.tree, str(saved))
    configure(ScstSysfs("/", access=InProcessAccess(first.tree)), disk)
    persistence.save()
    running = lio_snapshot(fs)
    # SIGKILL: no shutdown; the LIO objects stay.  A new daemon starts on the same configfs.
    second = ScstSystem(LioRealizer(configfs=fs, supervisor=FakeSupervisor()))  # type: ignore[arg-type]
    again = Persistence(second.tree, str(saved))
    removed = clean_stale(fs, 100, again.saved_target_names())  # type: ignore[arg-type]
    assert any(IQN in item for item in removed)
    assert [backstore.name for backstore in list_backstores(fs)] == ["someone_elses"]
    assert again.restore()
    assert lio_snapshot(fs).keys() == running.keys()
    assert foreign.exists()
