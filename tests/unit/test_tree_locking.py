"""Nothing slow holds the tree's lock: readers of the mounted tree get their answers while a
device's data-plane worker is starting and while the daemon's saver reads or writes, and
what they see is the tree before or after a command, never in the middle of one.

Each slow step is held open on an Event, so these tests show *that* a read completes
meanwhile, not how fast (that is bench/config-scale's job)."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.config.in_process import InProcessAccess
from tcmu_scst.config.sysfs import ScstSysfs, SysfsError
from tcmu_scst.daemon import persistence as persistence_module
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.daemon.persistence import Persistence
from tcmu_scst.dataplane.spec import DeviceSpec
from tcmu_scst.dataplane.supervisor import OnOpened
from tcmu_scst.lio.snapshot import snapshot as lio_snapshot
from tcmu_scst.testing.lio import EmulatedConfigfs, emulated_lio

from .scst_mount import MountedScst, fuse_unavailable, mounted_scst
from .test_config_apply import snapshot
from .test_daemon_realizer import FakeSupervisor

T = TypeVar("T")
WAIT = 10.0  # seconds before a test gives up on something that should happen at once


class HeldSupervisor(FakeSupervisor):
    """A supervisor whose ``start`` stays in progress until ``proceed`` is set, and then
    fails if ``failure`` is set; ``log`` records when each start began and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.starting = threading.Event()
        self.proceed = threading.Event()
        self.failure: Exception | None = None
        self.log: list[str] = []

    def start(self, key: str, specs: list[DeviceSpec],
              on_opened: OnOpened | None = None) -> SimpleNamespace:
        self.log.append(f"begin {key}")
        self.starting.set()
        assert self.proceed.wait(WAIT), "the test never let the worker start finish"
        self.log.append(f"end {key}")
        if self.failure is not None:
            raise self.failure
        return super().start(key, specs, on_opened)


class Background:
    """One call in a thread of its own, its outcome kept for the test."""

    def __init__(self, call: Callable[[], object]):
        self.error: BaseException | None = None
        self.result: object = None

        def run() -> None:
            try:
                self.result = call()
            except BaseException as error:
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finished(self, timeout: float = WAIT) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


def completes(call: Callable[[], T]) -> T:
    """``call()``'s result, failing the test if it does not return (it waits on a lock)."""
    work = Background(call)
    assert work.finished(), "a read of the tree waited for the slow step"
    if work.error is not None:
        raise work.error
    return work.result  # type: ignore[return-value]


@pytest.fixture
def lio_tree() -> Iterator[tuple[MountedScst, HeldSupervisor, EmulatedConfigfs]]:
    """Our tree over the LIO realizer (emulated configfs) with a held worker start, mounted."""
    reason = fuse_unavailable()
    if reason:
        pytest.skip(reason)
    fs = emulated_lio()
    supervisor = HeldSupervisor()
    system = ScstSystem(LioRealizer(configfs=fs, supervisor=supervisor))  # type: ignore[arg-type]
    with mounted_scst(system) as mounted:
        try:
            yield mounted, supervisor, fs
        finally:
            supervisor.proceed.set()


def test_reads_complete_while_a_worker_starts(
        lio_tree: tuple[MountedScst, HeldSupervisor, EmulatedConfigfs], tmp_path: Path) -> None:
    mounted, supervisor, _ = lio_tree
    sysfs = ScstSysfs(mounted.root)
    before = snapshot(sysfs)
    adding = Background(lambda: sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1"))
    assert supervisor.starting.wait(WAIT)
    second = Background(lambda: ScstSysfs(mounted.root).write("handlers/vdisk_nullio/mgmt",
                                                              "add_device n2"))

    # meanwhile: the mount answers, and shows the tree as it was before the command
    assert completes((mounted.root / "version").read_text).startswith("SCST")
    assert completes(lambda: snapshot(ScstSysfs(mounted.root))) == before
    saver = Persistence(mounted.system.tree, str(tmp_path / "saved.conf"))
    assert "n1" not in completes(lambda: str(saver.read().handlers))
    assert adding.running and second.running  # the start is still held, n2 still waits

    supervisor.proceed.set()
    assert adding.finished() and second.finished()
    assert adding.error is None and second.error is None
    # commands stay one at a time: n2's worker started only after n1's had
    assert supervisor.log == ["begin n1", "end n1", "begin n2", "end n2"]
    assert sysfs.entries("devices") == ["n1", "n2"]


def test_a_failed_worker_start_leaves_the_tree_unchanged(
        lio_tree: tuple[MountedScst, HeldSupervisor, EmulatedConfigfs]) -> None:
    mounted, supervisor, fs = lio_tree
    sysfs = ScstSysfs(mounted.root)
    before, configfs_before = snapshot(sysfs), lio_snapshot(fs)
    supervisor.failure = RuntimeError("worker exited at once")
    adding = Background(lambda: sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1"))
    assert supervisor.starting.wait(WAIT)
    assert completes(lambda: snapshot(ScstSysfs(mounted.root))) == before
    supervisor.proceed.set()
    assert adding.finished()
    assert isinstance(adding.error, SysfsError) and adding.error.errno == errno.EIO
    after = snapshot(sysfs)
    assert after.pop("last_sysfs_mgmt_res") == f"-{errno.EIO}\n"
    before.pop("last_sysfs_mgmt_res")
    assert after == before
    assert lio_snapshot(fs) == configfs_before  # the realizer removed its backstore again


class ParkedAccess(InProcessAccess):
    """The saver's view of the tree, stopping once (outside the tree's lock) right after it
    read ``park_at``, until ``resume`` is set."""

    def __init__(self, tree: ScstSystem, park_at: str):
        super().__init__(tree.tree)
        self.park_at = park_at
        self.parked = threading.Event()
        self.resume = threading.Event()

    def read(self, relative: str) -> str:
        text = super().read(relative)
        if relative == self.park_at and not self.parked.is_set():
            self.parked.set()
            assert self.resume.wait(WAIT), "the test never let the save go on"
        return text


class WatchedCommands:
    """The tree's command lock, noting each time the saver's thread takes it."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.taken_by_saver = 0

    def __enter__(self) -> bool:
        if threading.current_thread().name == "scst-conf-saver":
            self.taken_by_saver += 1
        return self.lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.lock.__exit__(*exc)


@pytest.mark.parametrize("lag_limit", [persistence_module.LAG_LIMIT_SECONDS, 0.0])
def test_reads_and_writes_complete_while_a_save_reads_the_tree(
        tree: MountedScst, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        lag_limit: float) -> None:
    """And a save that saw a change does not hold commands back for a second read at every
    turn of a long burst: it tries again when the burst pauses; only once the oldest
    unsaved change has waited the lag limit does it read holding commands back (a stream
    that never pauses)."""
    monkeypatch.setattr(persistence_module, "LAG_LIMIT_SECONDS", lag_limit)
    watched = WatchedCommands(tree.system.tree.commands)
    monkeypatch.setattr(tree.system.tree, "commands", watched)
    saved = tmp_path / "saved.conf"
    persistence = Persistence(tree.system.tree, str(saved), debounce=0.0)
    access = ParkedAccess(tree.system, "devices/n1/blocksize")
    persistence.sysfs = ScstSysfs("/", access=access)
    persistence.start()
    try:
        sysfs = ScstSysfs(tree.root)
        sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1")
        assert access.parked.wait(WAIT)  # the save is halfway through reading the tree
        assert completes(lambda: sysfs.entries("devices")) == ["n1"]
        completes(lambda: sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n2"))
        access.resume.set()
        assert persistence.settle(WAIT)
    finally:
        access.resume.set()
        persistence.stop()
    # the tree changed while it was read: that reading was not kept, the file has both
    text = saved.read_text()
    assert "DEVICE n1" in text and "DEVICE n2" in text
    assert (watched.taken_by_saver > 0) == (lag_limit == 0.0)


def test_reads_and_writes_complete_while_a_save_writes_its_file(
        tree: MountedScst, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saving, proceed = threading.Event(), threading.Event()
    real_save = persistence_module.save_atomically

    def held_save(path: str, text: str, secret: bool) -> None:
        saving.set()
        assert proceed.wait(WAIT), "the test never let the file be written"
        real_save(path, text, secret)

    monkeypatch.setattr(persistence_module, "save_atomically", held_save)
    saved = tmp_path / "saved.conf"
    persistence = Persistence(tree.system.tree, str(saved), debounce=0.0)
    persistence.start()
    try:
        sysfs = ScstSysfs(tree.root)
        sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n1")
        assert saving.wait(WAIT)
        assert completes(lambda: sysfs.read("devices/n1/blocksize")) == "512\n"
        completes(lambda: sysfs.write("handlers/vdisk_nullio/mgmt", "add_device n2"))
        proceed.set()
        assert persistence.settle(WAIT)
    finally:
        proceed.set()
        persistence.stop()
    assert "DEVICE n2" in saved.read_text()
