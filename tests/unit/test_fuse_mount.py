"""The FUSE front end on the real kernel FUSE: a small tree mounted in /tmp, used with plain file
operations and shells, as administrators and scstadmin use /sys/kernel/scst_tgt."""

from __future__ import annotations

import ctypes.util
import errno
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs import fuse_mount, nodes
from tcmu_scst.compat_sysfs.fuse_mount import MountError, MountHandle, mount
from tcmu_scst.compat_sysfs.kernel_log import KernelLog
from tcmu_scst.compat_sysfs.names import DIRECTORY_XATTR

from .scst_mount import fuse_unavailable

pytestmark = pytest.mark.skipif(fuse_unavailable() is not None, reason=str(fuse_unavailable()))


@dataclass
class Demo:
    """The state behind the demo tree: what was written, and a value that changes on demand."""

    writes: list[str] = field(default_factory=list)
    generation: int = 1
    devices: dict[str, nodes.Node] = field(default_factory=dict)

    def refuse(self, text: str) -> None:
        raise OSError(errno.EINVAL, f"unknown command {text.split(maxsplit=1)[0]!r}")

    def counter(self) -> str:
        return "".join(f"generation {self.generation} line {i}\n" for i in range(50))

    def tree(self) -> nodes.Tree:
        rw = nodes.Attribute(lambda: f"value {len(self.writes)}\n", self.writes.append)
        return nodes.Tree(
            nodes.Directory(
                nodes.fixed(
                    {
                        "dir": nodes.Directory(nodes.fixed({"rw": rw})),
                        "ro": nodes.Attribute(nodes.constant("read only\n")),
                        "wo": nodes.Attribute(None, self.writes.append),
                        "link": nodes.Link("dir"),
                        "mgmt": nodes.Attribute(nodes.constant("Usage: ...\n"), self.refuse),
                        "counter": nodes.Attribute(self.counter),
                        "devices": nodes.Directory(lambda: self.devices),
                    }
                )
            )
        )


@pytest.fixture
def mountpoint() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parent is 0700 and the non-root test must reach the mount.
    path = Path(tempfile.mkdtemp(prefix="scst-fuse-"))
    path.chmod(0o755)
    yield path
    if os.path.ismount(path) or _stale(path):
        fuse_mount._detach(str(path), lazy=True)
    shutil.rmtree(path)


@pytest.fixture
def demo(mountpoint: Path) -> Iterator[tuple[Demo, Path, MountHandle]]:
    state = Demo()
    handle = mount(state.tree(), str(mountpoint))
    try:
        yield state, mountpoint, handle
    finally:
        handle.unmount()


def _stale(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as error:
        return error.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    return False


def shell(command: str, *prefix: str) -> subprocess.CompletedProcess[str]:
    # bash, not sh: dash's echo reports every write error as "I/O error", bash prints the errno
    return subprocess.run(
        [*prefix, "bash", "-c", command], capture_output=True, text=True, timeout=10, check=False
    )


def test_listing_modes_and_link(demo):
    _, root, _ = demo
    assert sorted(os.listdir(root)) == ["counter", "devices", "dir", "link", "mgmt", "ro", "wo"]
    assert os.listdir(root / "dir") == ["rw"]
    modes = {name: os.lstat(root / name).st_mode for name in ["dir", "ro", "wo", "mgmt", "link"]}
    assert modes == {
        "dir": stat.S_IFDIR | 0o755,
        "ro": stat.S_IFREG | 0o444,
        "wo": stat.S_IFREG | 0o200,
        "mgmt": stat.S_IFREG | 0o644,
        "link": stat.S_IFLNK | 0o777,
    }
    info = os.stat(root / "dir" / "rw")
    assert (info.st_mode, info.st_uid, info.st_gid) == (stat.S_IFREG | 0o644, 0, 0)
    assert os.readlink(root / "link") == "dir"
    assert os.listdir(root / "link") == ["rw"]


def test_read_contents(demo):
    _, root, _ = demo
    assert (root / "ro").read_text() == "read only\n"
    assert (root / "link" / "rw").read_text() == "value 0\n"
    assert (root / "mgmt").read_text() == "Usage: ...\n"
    result = shell(f"cat {root}/ro {root}/dir/rw")
    assert (result.returncode, result.stdout) == (0, "read only\nvalue 0\n")


def test_a_directory_answers_its_snapshot_and_nothing_else_has_attributes(demo):
    """The one extended attribute (ours, not SCST's) is on directories, asked for by name:
    the entries with their modes, the files' texts (the write-only one's errno, ``mgmt``
    left out), the link's target, the subdirectory nested."""
    _, root, _ = demo
    entries = json.loads(os.getxattr(root, DIRECTORY_XATTR))
    assert entries == {
        "counter": [stat.S_IFREG | 0o444, (root / "counter").read_text()],
        "devices": [stat.S_IFDIR | 0o755, {}],
        "dir": [stat.S_IFDIR | 0o755, {"rw": [stat.S_IFREG | 0o644, "value 0\n"]}],
        "link": [stat.S_IFLNK | 0o777, "dir"],
        "mgmt": [stat.S_IFREG | 0o644, None],
        "ro": [stat.S_IFREG | 0o444, "read only\n"],
        "wo": [stat.S_IFREG | 0o200, errno.EACCES],
    }
    assert os.listxattr(root) == [] and os.listxattr(root / "ro") == []
    for path, name in ((root / "ro", DIRECTORY_XATTR), (root, "user.other"),
                       (root / "dir", "security.selinux")):
        with pytest.raises(OSError) as absent:
            os.getxattr(path, name)
        assert absent.value.errno == errno.ENODATA, (path, name)
    with pytest.raises(OSError) as refused:
        os.setxattr(root, DIRECTORY_XATTR, b"{}")
    assert refused.value.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP)


def test_each_write_call_is_one_command(demo):
    state, root, _ = demo
    result = shell(f"echo 'add_device disk1 filename=/x' > {root}/dir/rw")
    assert (result.returncode, result.stderr) == (0, "")
    with open(root / "wo", "wb", buffering=0) as handle:
        assert handle.write(b"first\n") == 6
        with pytest.raises(OSError) as error:  # one open file takes one command
            handle.write(b"second\n")
        assert error.value.errno == errno.EINVAL
    with open(root / "wo", "wb", buffering=0) as handle:
        assert handle.write(b"second\n") == 7
    assert state.writes == ["add_device disk1 filename=/x\n", "first\n", "second\n"]
    assert (root / "dir" / "rw").read_text() == "value 3\n"


def test_wrong_direction_is_eacces_even_for_root(demo):
    _, root, _ = demo
    for path, flags in [
        (root / "ro", os.O_WRONLY),
        (root / "ro", os.O_RDWR),
        (root / "wo", os.O_RDONLY),
        (root / "wo", os.O_RDWR),
    ]:
        with pytest.raises(PermissionError) as error:
            os.close(os.open(path, flags))
        assert error.value.errno == errno.EACCES, (path, flags)
    result = shell(f"echo 1 > {root}/ro")
    assert result.returncode == 1
    assert "Permission denied" in result.stderr


def test_failing_write_reaches_echo_and_the_log(demo, caplog):
    _, root, _ = demo
    caplog.set_level(logging.INFO, logger=fuse_mount.__name__)
    result = shell(f"echo frobnicate disk1 > {root}/mgmt")
    assert result.returncode == 1
    assert "write error: Invalid argument" in result.stderr
    assert any(
        "/mgmt" in record.getMessage() and "unknown command 'frobnicate'" in record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    )
    fd = os.open(root / "mgmt", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as error:
            os.write(fd, b"frobnicate\n")
        assert error.value.errno == errno.EINVAL
        with pytest.raises(OSError) as error:
            os.write(fd, b"\xff\xfe\n")  # not UTF-8
        assert error.value.errno == errno.EINVAL
    finally:
        os.close(fd)


def test_an_open_file_reads_one_snapshot(demo):
    state, root, _ = demo
    first = state.counter().encode()
    fd = os.open(root / "counter", os.O_RDONLY)
    try:
        head = os.read(fd, 10)
        state.generation = 2
        rest = b""
        while chunk := os.read(fd, 7):
            rest += chunk
        assert head + rest == first
    finally:
        os.close(fd)
    assert (root / "counter").read_text() == state.counter()
    assert "generation 2" in state.counter()


def test_objects_appear_and_vanish_at_once(demo):
    state, root, _ = demo
    assert os.listdir(root / "devices") == []
    state.devices["disk1"] = nodes.Directory(
        nodes.fixed({"size": nodes.Attribute(nodes.constant("8\n"))})
    )
    assert os.listdir(root / "devices") == ["disk1"]
    assert (root / "devices" / "disk1" / "size").read_text() == "8\n"
    assert os.stat(root / "devices").st_nlink == 3
    del state.devices["disk1"]
    assert not (root / "devices" / "disk1").exists()
    with pytest.raises(FileNotFoundError):
        (root / "devices" / "disk1" / "size").read_text()


def test_truncate_is_accepted_only_on_writable_files(demo):
    _, root, _ = demo
    os.truncate(root / "dir" / "rw", 0)
    with open(root / "wo", "wb") as handle:  # O_TRUNC, then ftruncate
        handle.truncate(0)
    with pytest.raises(PermissionError):
        os.truncate(root / "ro", 0)


def test_the_tree_cannot_be_reshaped(demo):
    _, root, _ = demo
    refused = {
        "mkdir": (lambda: os.mkdir(root / "new"), errno.EPERM),
        "rmdir": (lambda: os.rmdir(root / "dir"), errno.EPERM),
        "unlink": (lambda: os.unlink(root / "ro"), errno.EPERM),
        "rename": (lambda: os.rename(root / "ro", root / "ro2"), errno.EPERM),
        "symlink": (lambda: os.symlink("ro", root / "ro3"), errno.EPERM),
        "chmod": (lambda: os.chmod(root / "ro", 0o666), errno.EPERM),
        "chown": (lambda: os.chown(root / "ro", 1, 1), errno.EPERM),
        "create": (lambda: os.close(os.open(root / "new", os.O_WRONLY | os.O_CREAT)), errno.EACCES),
    }
    for name, (operation, expected) in refused.items():
        with pytest.raises(OSError) as error:
            operation()
        assert error.value.errno == expected, name
    assert (root / "ro").read_text() == "read only\n"


def test_other_users_read_but_only_root_writes(demo):
    state, root, _ = demo
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    result = shell(f"cat {root}/ro {root}/dir/rw", *nobody)
    assert (result.returncode, result.stdout) == (0, "read only\nvalue 0\n")
    for command in [f"echo x > {root}/dir/rw", f"cat {root}/wo"]:
        result = shell(command, *nobody)
        assert result.returncode == 1, command
        assert "Permission denied" in result.stderr, command
    assert state.writes == []


def test_unmount_leaves_an_empty_directory(mountpoint):
    handle = mount(Demo().tree(), str(mountpoint))
    assert os.path.ismount(mountpoint)
    assert handle.mounted
    handle.unmount()
    assert not handle.mounted
    assert not os.path.ismount(mountpoint)
    assert os.listdir(mountpoint) == []
    handle.unmount()  # a second call is harmless


def test_a_live_mount_is_not_mounted_over(demo):
    _, root, _ = demo
    with pytest.raises(MountError, match="already a mount point"):
        mount(Demo().tree(), str(root))
    assert (root / "ro").read_text() == "read only\n"


DAEMON = """
import sys, time
from tcmu_scst.compat_sysfs import fuse_mount, nodes
tree = nodes.Tree(nodes.Directory(nodes.fixed({})))
fuse_mount.mount(tree, sys.argv[1])
print("mounted", flush=True)
if sys.argv[2] == "wait":
    time.sleep(60)
"""


def start_daemon(mountpoint: Path, then: str) -> subprocess.Popen[str]:
    daemon = subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(mountpoint), then], stdout=subprocess.PIPE, text=True
    )
    assert daemon.stdout is not None
    line = daemon.stdout.readline()
    if line != "mounted\n":
        daemon.kill()
        daemon.wait()
        pytest.fail(f"the daemon did not mount: {line!r}")
    return daemon


@pytest.mark.parametrize(
    ("then", "signum", "status"), [("exit", None, 0), ("wait", signal.SIGTERM, 143)]
)
def test_the_mount_goes_when_the_program_ends(mountpoint, then, signum, status):
    daemon = start_daemon(mountpoint, then)
    if signum is not None:
        daemon.send_signal(signum)
    assert daemon.wait(timeout=10) == status
    assert not os.path.ismount(mountpoint)
    assert os.listdir(mountpoint) == []


def test_a_dead_daemons_mount_is_cleared(mountpoint):
    daemon = start_daemon(mountpoint, "wait")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(timeout=10)
    assert _stale(mountpoint)
    with mount(Demo().tree(), str(mountpoint)):
        assert (mountpoint / "ro").read_text() == "read only\n"
    assert os.listdir(mountpoint) == []


def test_foreground_mount_returns_after_unmount(mountpoint):
    handles: list[MountHandle] = []
    runner = threading.Thread(
        target=lambda: handles.append(mount(Demo().tree(), str(mountpoint), foreground=True))
    )
    runner.start()
    deadline = time.monotonic() + 5
    while not os.path.ismount(mountpoint):
        assert time.monotonic() < deadline, "foreground mount did not appear"
        time.sleep(0.01)
    assert (mountpoint / "ro").read_text() == "read only\n"
    fuse_mount._detach(str(mountpoint), lazy=False)
    runner.join(5)
    assert not runner.is_alive()
    assert not handles[0].mounted
    assert os.listdir(mountpoint) == []


def test_a_busy_mount_is_detached_lazily(mountpoint, caplog):
    handle = mount(Demo().tree(), str(mountpoint))
    fd = os.open(mountpoint / "ro", os.O_RDONLY)
    try:
        handle.unmount(timeout=0.2)
        assert not os.path.ismount(mountpoint)
        assert os.listdir(mountpoint) == []
        assert os.read(fd, 100) == b"read only\n"  # the open file still works
        assert any("detaching it lazily" in record.getMessage() for record in caplog.records)
    finally:
        os.close(fd)
    deadline = time.monotonic() + 5
    while handle.mounted:
        assert time.monotonic() < deadline, "the FUSE loop outlived the last open file"
        time.sleep(0.01)


LIBFUSE_CHOICE = """
from tests.unit.scst_mount import mounted_scst
with mounted_scst() as tree:
    print("version:", (tree.root / "version").read_text().strip())
import mfusepy
print("library:", mfusepy._libfuse_path, mfusepy.fuse_version_major)
"""


def test_the_tree_mounts_with_libfuse3_when_libfuse2_is_installed_too() -> None:
    """mfusepy on its own picks libfuse 2 when both are installed (ceph-osd pulls libfuse2
    in), and the tree then fails to mount: the daemon names libfuse 3 itself."""
    if ctypes.util.find_library("fuse") is None:
        pytest.skip("libfuse2 is not installed (tools/setup-host installs it)")
    environment = {key: value for key, value in os.environ.items()
                   if key != "FUSE_LIBRARY_PATH"}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", LIBFUSE_CHOICE], cwd=root, env=environment,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "version: " in result.stdout
    assert "library: libfuse3" in result.stdout and result.stdout.rstrip().endswith(" 3")


def test_refusals_reach_the_kernel_log(mountpoint: Path, tmp_path: Path) -> None:
    """scstadmin says 'See "dmesg"' on a refusal: the reason is there, one line per refusal,
    named after the daemon (here a file stands in for /dev/kmsg)."""
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    kernel_log = KernelLog(str(kmsg))
    handle = mount(Demo().tree(), str(mountpoint), kernel_log=kernel_log)
    try:
        descriptor = os.open(mountpoint / "mgmt", os.O_WRONLY)
        try:  # one write(2): a buffered file object would try its buffer again at close
            with pytest.raises(OSError) as caught:
                os.write(descriptor, b"frobnicate now\n")
        finally:
            os.close(descriptor)
        assert caught.value.errno == errno.EINVAL
        (mountpoint / "dir" / "rw").write_text("accepted\n")  # not a refusal: nothing logged
    finally:
        handle.unmount()
        kernel_log.close()
    assert kmsg.read_text() == ("<4>tcmu-scstd: /mgmt: write failed with EINVAL: unknown "
                                "command 'frobnicate'\n")


def test_a_kernel_log_that_cannot_be_opened_changes_nothing(tmp_path: Path) -> None:
    kernel_log = KernelLog(str(tmp_path / "missing" / "kmsg"))
    kernel_log.refusal("first")  # no exception, and it does not try again every time
    assert kernel_log._unusable
