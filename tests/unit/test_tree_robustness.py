"""The management tree cannot be broken by a name or a write.

Each case here reproduces a way the landed daemon could be broken: a name that replaced one
of the tree's own files, a name that is no single path component, a control character, a
backing file that hung the daemon or leaked a descriptor, a write that held more or less than
one command.  Every such command must now be refused whole, and leave behind exactly what was
there: the tree's contents, the realizer's calls and, with the LIO realizer, the emulated
configfs and the workers.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs import fuse_mount
from tcmu_scst.compat_sysfs.nodes import Attribute, Directory, Link, Tree
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.handlers.backend import FileBackend
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import emulated_lio
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .scst_mount import MountedScst
from .test_daemon_realizer import FakeSupervisor

IQN = "iqn.2006-10.net.vlnb:tgt"
TARGET = f"/targets/iscsi/{IQN}"
GROUP = f"{TARGET}/ini_groups/g1"
HOST = "iqn.1994-05.com.redhat:host1"
FILEIO = "/handlers/vdisk_fileio/mgmt"
BLOCKIO = "/handlers/vdisk_blockio/mgmt"
NULLIO = "/handlers/vdisk_nullio/mgmt"
ISCSI = "/targets/iscsi/mgmt"
LOCAL = "/targets/scst_local/mgmt"
ONE_COMMAND = "one command per write, at most 4095 bytes"


@dataclass
class World:
    """A populated tree over a realizer, and what the realizer has done so far."""

    system: ScstSystem
    below: Callable[[], object]  # the realizer's state: its calls, or configfs and workers


def populate(system: ScstSystem, disk: Path) -> None:
    """One object of every kind that has a name: devices of three handlers, an iSCSI target
    with a LUN, a group with an initiator and a LUN, a local target with a session."""
    for path, command in [
        (FILEIO, f"add_device disk1 filename={disk}"),
        (NULLIO, "add_device n1"),
        ("/handlers/vcdrom/mgmt", "add_device cd1"),
        (ISCSI, f"add_target {IQN}"),
        (f"{TARGET}/luns/mgmt", "add disk1 0"),
        (f"{TARGET}/ini_groups/mgmt", "create g1"),
        (f"{GROUP}/initiators/mgmt", f"add {HOST}"),
        (f"{GROUP}/luns/mgmt", "add n1 0"),
        (f"{TARGET}/enabled", "1"),
        ("/targets/iscsi/enabled", "1"),
        (LOCAL, "add_target local1 session_name=s1"),
    ]:
        system.tree.write(path, command)


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk1"
    path.write_bytes(bytes(8 << 20))
    return path


@pytest.fixture(params=["recording", "lio"])
def world(request: pytest.FixtureRequest, disk: Path) -> World:
    if request.param == "recording":
        realizer = RecordingRealizer()
        system = ScstSystem(realizer)
        populate(system, disk)
        return World(system, lambda: list(realizer.calls))
    fs = emulated_lio()
    supervisor = FakeSupervisor()
    system = ScstSystem(LioRealizer(configfs=fs, supervisor=supervisor))  # type: ignore[arg-type]
    populate(system, disk)
    return World(system, lambda: (snapshot(fs), {key: list(specs) for key, specs in
                                                 supervisor.workers.items()},
                                  list(supervisor.attributes)))


def contents(tree: Tree) -> dict[str, str]:
    """Every path of the tree with what it shows: a file's text, a link's target, "/" for a
    directory (``last_sysfs_mgmt_res`` left out: it changes with every write)."""
    found: dict[str, str] = {}

    def visit(path: str) -> None:
        node = tree.lookup(path or "/")
        if isinstance(node, Directory):
            found[path or "/"] = "/"
            for name in tree.listdir(path or "/"):
                visit(f"{path}/{name}")
        elif isinstance(node, Link):
            found[path] = f"-> {node.target}"
        elif isinstance(node, Attribute) and node.read is not None:
            if path != "/last_sysfs_mgmt_res":
                found[path] = tree.read(path)
        else:
            found[path] = "(write-only)"

    visit("")
    return found


def refused(world: World, path: str, text: str, code: int = errno.EINVAL,
            words: str = "") -> OSError:
    """``text`` written to ``path`` fails with ``code`` and changes nothing anywhere."""
    tree_before, below_before = contents(world.system.tree), world.below()
    with pytest.raises(OSError) as caught:
        world.system.tree.write(path, text)
    assert caught.value.errno == code, caught.value
    assert words in str(caught.value), caught.value
    assert world.system.tree.read("/last_sysfs_mgmt_res") == f"-{code}\n"
    assert world.below() == below_before
    assert contents(world.system.tree) == tree_before
    return caught.value


# --- 1. names that are entries their directory has for itself, or no entry at all --------

RESERVED_NAMES = [
    # handlers/<h>/ lists its devices next to mgmt, type and trace_level
    (NULLIO, "add_device mgmt"),
    (NULLIO, "add_device type"),
    (NULLIO, "add_device trace_level"),
    (FILEIO, "add_device mgmt filename={disk}"),
    # targets/iscsi/ lists its targets next to its own files and the discovery accounts
    (ISCSI, "add_target mgmt"),
    (ISCSI, "add_target enabled"),
    (ISCSI, "add_target open_state"),
    (ISCSI, "add_target version"),
    (ISCSI, "add_target trace_level"),
    (ISCSI, "add_target iSNSServer"),
    (ISCSI, "add_target IncomingUser"),
    (ISCSI, "add_target IncomingUser2"),
    (ISCSI, "add_target OutgoingUser"),
    (LOCAL, "add_target mgmt"),
    (f"{TARGET}/ini_groups/mgmt", "create mgmt"),
    (f"{GROUP}/initiators/mgmt", "add mgmt"),
    # no single path component
    (NULLIO, "add_device ."),
    (NULLIO, "add_device .."),
    (ISCSI, "add_target ."),
    (LOCAL, "add_target .."),
    (f"{TARGET}/ini_groups/mgmt", "create ."),
    (f"{TARGET}/ini_groups/mgmt", "create .."),
    (f"{GROUP}/initiators/mgmt", "add .."),
    (LOCAL, "add_session local1 .."),
    (LOCAL, "add_target local2 session_name=."),
]


@pytest.mark.parametrize(("path", "command"), RESERVED_NAMES)
def test_a_name_cannot_take_the_place_of_a_file_of_the_tree(world: World, disk: Path,
                                                             path: str, command: str) -> None:
    error = refused(world, path, command.format(disk=disk))
    assert "choose another name" in str(error)


def test_the_reserved_names_are_still_the_trees_own_files(world: World) -> None:
    tree = world.system.tree
    refused(world, NULLIO, "add_device mgmt")
    assert "add_device" in tree.read(NULLIO)
    refused(world, ISCSI, "add_target enabled")
    assert tree.read("/targets/iscsi/enabled") == "1\n"


# --- 2. names holding "/" -----------------------------------------------------------------

SLASHED_NAMES = [
    (NULLIO, "add_device d/1"),
    (NULLIO, "add_device /"),
    (FILEIO, "add_device d/1 filename={disk}"),
    (ISCSI, "add_target iqn.2006-10.net.vlnb:a/b"),
    (LOCAL, "add_target l/1"),
    (f"{TARGET}/ini_groups/mgmt", "create g/1"),
    (f"{GROUP}/initiators/mgmt", "add iqn.1994-05.com.redhat:a/b"),
    (LOCAL, "add_session local1 s/1"),
    (LOCAL, "add_target local2 session_name=s/1"),
]


@pytest.mark.parametrize(("path", "command"), SLASHED_NAMES)
def test_a_name_with_a_slash_is_refused(world: World, disk: Path, path: str,
                                        command: str) -> None:
    error = refused(world, path, command.format(disk=disk))
    assert "'/'" in str(error)


# --- 3. control characters ----------------------------------------------------------------

CONTROL_CHARACTERS = [
    (NULLIO, "add_device p1\0x"),
    (NULLIO, "add_device p1\0"),
    (NULLIO, "add_device p1 t10_dev_id=a\0b"),
    (NULLIO, "add_device p1\x01"),
    (NULLIO, "add_device\tp1"),
    (NULLIO, "add_device p1\r\n"),
    (NULLIO, "add_device p1\x7f"),
    (NULLIO, "add_device p1\x85"),  # NEL: whitespace to Python's regular expressions
    (NULLIO, "add_device p1\u2028x"),  # a line break to the scst.conf reader
    (FILEIO, "add_device p1 filename={disk}\0"),
    (ISCSI, "add_target iqn.2006-10.net.vlnb:\x1b[2J"),
    (f"{GROUP}/initiators/mgmt", "add iqn.1994-05.com.redhat:x\0y"),
    (LOCAL, "add_session local1 s\x002"),
    ("/devices/disk1/t10_vend_id", "AB\0CD"),
    (f"{TARGET}/enabled", "0\0"),
]


@pytest.mark.parametrize(("path", "command"), CONTROL_CHARACTERS)
def test_a_control_character_is_refused(world: World, disk: Path, path: str,
                                        command: str) -> None:
    error = refused(world, path, command.format(disk=disk))
    assert "control character" in str(error)


# --- 5. one write, one command --------------------------------------------------------------

PADDING = " " * (1 << 20)
NOT_ONE_COMMAND = [
    (FILEIO, PADDING + "\ndel_device disk1\n"),
    (NULLIO, "add_device p1\ndel_device n1\n"),
    (NULLIO, "add_device p1\n\n"),
    (NULLIO, "add_device p1 size_mb=1\nread_only=1"),
    (NULLIO, "add_device p1 size_mb=1;" + " " * (4096 - 36) + "read_only=1\n"),
    (f"{TARGET}/luns/mgmt", "del 0\nadd n1 0\n"),
    ("/devices/disk1/t10_vend_id", "AB\nCD\n"),
]


@pytest.mark.parametrize(("path", "text"), NOT_ONE_COMMAND,
                         ids=[f"case{number}" for number in range(len(NOT_ONE_COMMAND))])
def test_a_write_that_is_not_one_command_is_refused_whole(world: World, path: str,
                                                          text: str) -> None:
    refused(world, path, text, words=ONE_COMMAND)


def test_a_command_of_4095_bytes_is_one_command(world: World) -> None:
    tree = world.system.tree
    command = "add_device p1 size_mb=1;" + " " * (4095 - 36) + "read_only=1\n"
    assert len(command) == 4095
    tree.write(NULLIO, command)
    assert tree.read("/devices/p1/read_only") == "1\n[key]\n"
    refused(world, NULLIO, "add_device p2 size_mb=1;" + " " * (4096 - 36) + "read_only=1\n",
            words=ONE_COMMAND)
    tree.write(NULLIO, "add_device p3")  # no newline at all is one command too
    assert {"p1", "p3"} <= set(tree.listdir("/devices"))


# --- 4. backing files the daemon must not open ------------------------------------------------

UNBLOCK_INTERVAL = 3.0  # seconds


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO, and a thread that gives a reader stuck in opening it a writer now and then, so
    that code which opens it fails its test instead of hanging it."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    stop = threading.Event()

    def unblock() -> None:
        while not stop.wait(UNBLOCK_INTERVAL):
            with contextlib.suppress(OSError):  # ENXIO: nobody is waiting to read
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "socket"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    yield path
    server.close()


def test_a_fifo_read_only_is_refused_without_opening_it(world: World, fifo: Path) -> None:
    started = time.monotonic()
    refused(world, FILEIO, f"add_device f1 filename={fifo}; read_only=1",
            words=f"{fifo} is a FIFO")
    # opening it for reading waits for a writer, with the tree's lock held
    assert time.monotonic() - started < UNBLOCK_INTERVAL / 2


def backing_kinds(fifo: Path, unix_socket: Path, tmp_path: Path) -> list[tuple[str, int, str]]:
    return [(f"{fifo}", errno.EINVAL, "FIFO"),
            (f"{fifo}; read_only=1", errno.EINVAL, "FIFO"),
            (f"{unix_socket}", errno.EINVAL, "socket"),
            ("/dev/null", errno.EINVAL, "character device"),
            (f"{tmp_path}", errno.EINVAL, "directory"),
            (f"{tmp_path}; read_only=1", errno.EINVAL, "directory")]


@pytest.mark.parametrize("mgmt", [FILEIO, BLOCKIO])
def test_only_regular_files_and_block_devices_back_a_disk(world: World, fifo: Path,
                                                          unix_socket: Path, tmp_path: Path,
                                                          mgmt: str) -> None:
    for filename, code, kind in backing_kinds(fifo, unix_socket, tmp_path):
        path = filename.split(";")[0]
        error = refused(world, mgmt, f"add_device f1 filename={filename}", code)
        assert path in str(error) and kind in str(error), error


def test_a_cdrom_image_is_a_regular_file_or_block_device(world: World, fifo: Path, unix_socket: Path,
                                  tmp_path: Path) -> None:
    for filename, code, kind in backing_kinds(fifo, unix_socket, tmp_path):
        if ";" not in filename:
            error = refused(world, "/devices/cd1/filename", f"{filename}\n", code)
            assert filename in str(error) and kind in str(error), error


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failed_probes_leave_no_descriptor_open(world: World, fifo: Path, disk: Path,
                                                tmp_path: Path) -> None:
    attempts = [f"{fifo}", f"{tmp_path}", f"{tmp_path}; read_only=1", "/dev/null",
                f"{tmp_path}/missing", f"{disk}; blocksize=1", f"{disk}; colour=red"]
    before = _descriptors()
    for _ in range(20):
        for filename in attempts:
            with pytest.raises(OSError):
                world.system.tree.write(FILEIO, f"add_device f1 filename={filename}")
    assert _descriptors() == before


def test_the_backend_neither_blocks_on_a_fifo_nor_keeps_it_open(fifo: Path) -> None:
    """The worker opens what the tree accepted again: a path replaced by a FIFO meanwhile
    must not block it either."""
    before = _descriptors()
    for read_only in (True, False):
        started = time.monotonic()
        with pytest.raises(OSError, match="is a FIFO") as caught:
            FileBackend(fifo, read_only=read_only)
        assert caught.value.errno == errno.EINVAL
        assert time.monotonic() - started < UNBLOCK_INTERVAL / 2
    assert _descriptors() == before


# --- the same through the FUSE mount ----------------------------------------------------------

@pytest.fixture
def mounted(tree: MountedScst, disk: Path) -> MountedScst:
    populate(tree.system, disk)
    return tree


def _fuse_refused(mounted: MountedScst, operation: Callable[[], object]) -> OSError:
    tree_before, calls_before = contents(mounted.system.tree), list(mounted.realizer.calls)
    with pytest.raises(OSError) as caught:
        operation()
    assert caught.value.errno == errno.EINVAL, caught.value
    assert mounted.realizer.calls == calls_before
    assert contents(mounted.system.tree) == tree_before
    return caught.value


def test_padding_then_a_second_command_in_one_write_deletes_nothing(
        mounted: MountedScst, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=fuse_mount.__name__)
    fd = os.open(mounted.root / "handlers/vdisk_fileio/mgmt", os.O_WRONLY)
    try:
        _fuse_refused(mounted, lambda: os.write(
            fd, PADDING.encode() + b"\ndel_device disk1\n"))
    finally:
        os.close(fd)
    assert "disk1" in os.listdir(mounted.root / "devices")
    refusals = [record.getMessage() for record in caplog.records]
    assert len(refusals) == 1 and ONE_COMMAND in refusals[0], refusals


def test_a_long_command_through_a_buffered_file_creates_nothing(mounted: MountedScst) -> None:
    command = b"add_device p1 size_mb=1;" + b" " * 9000 + b"read_only=1\n"

    def write() -> None:
        with open(mounted.root / "handlers/vdisk_nullio/mgmt", "wb", buffering=4096) as file:
            file.write(command)

    _fuse_refused(mounted, write)
    assert "p1" not in os.listdir(mounted.root / "devices")


def test_a_long_echo_creates_nothing(mounted: MountedScst) -> None:
    before = list(mounted.realizer.calls)
    command = "add_device p1 size_mb=1;" + " " * 9000 + "read_only=1"
    result = subprocess.run(["bash", "-c", f"echo '{command}' > {mounted.root}/handlers/"
                             "vdisk_nullio/mgmt"], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "Invalid argument" in result.stderr, result
    assert "p1" not in os.listdir(mounted.root / "devices")
    assert mounted.realizer.calls == before


def test_one_open_file_takes_one_command(mounted: MountedScst) -> None:
    mgmt = mounted.root / "handlers/vdisk_nullio/mgmt"
    fd = os.open(mgmt, os.O_WRONLY)
    try:
        os.write(fd, b"add_device p1\n")
        _fuse_refused(mounted, lambda: os.write(fd, b"add_device p2\n"))
    finally:
        os.close(fd)
    fd = os.open(mgmt, os.O_WRONLY)
    try:  # a refused write does not move the offset: the retry at 0 is still the same file
        _fuse_refused(mounted, lambda: os.write(fd, b"add_device p/2\n"))
        _fuse_refused(mounted, lambda: os.pwrite(fd, b"add_device p3\n", 0))
    finally:
        os.close(fd)
    assert "p1" in os.listdir(mounted.root / "devices")
    assert not {"p2", "p3"} & set(os.listdir(mounted.root / "devices"))
    mgmt.write_text("add_device p4\n")  # a new open is a new command
    assert "p4" in os.listdir(mounted.root / "devices")


def test_a_refused_name_keeps_the_directory_listable(mounted: MountedScst) -> None:
    groups = mounted.root / TARGET.lstrip("/") / "ini_groups"
    _fuse_refused(mounted, lambda: (groups / "mgmt").write_text("create g/1\n"))
    assert sorted(os.listdir(groups)) == ["g1", "mgmt"]
