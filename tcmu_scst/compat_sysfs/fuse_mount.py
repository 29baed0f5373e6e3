"""The FUSE front end: the SCST tree mounted where users and scstadmin expect a directory.

The kernel's sysfs cannot be extended from user space, so the tree is served through libfuse3
(the ``mfusepy`` ctypes binding) with the behaviour scripts rely on in SCST's sysfs:

* modes come from the nodes and files are owned by root; the kernel checks them
  (``default_permissions``) for ordinary users, who may read (``allow_other``) but not write;
* root bypasses mode bits in the kernel, so the open handler refuses the wrong direction itself
  with EACCES, as kernfs does for root too;
* a file's text is rendered once when it is opened, so one open file reads a consistent
  snapshot however small the reads are; ``direct_io`` makes the kernel ask for every read and
  write instead of trusting st_size or its page cache;
* every write() call is one command: the errno of a refused command goes back to the writer
  (``echo`` prints it) and its message is logged, because the errno is all a shell shows;
  a write that is more or less than one command is refused whole (``one_command``): too
  long, or not the first write on its open file, which would be the rest of a command that a
  writer's buffer split or a second command;
* nothing can be created, removed, renamed or re-moded (EACCES for create, EPERM otherwise);
* one extended attribute, on directories only, is ours and not SCST's: ``DIRECTORY_XATTR``
  gives a directory's entries and what fits of the tree below it in one request (see
  snapshot_xattr), which the config tool reads instead of a file at a time; every other
  name is absent (ENODATA), and none is listed, so copying tools see no attributes.

The kernel's directory entry cache is switched off: objects come and go with management
commands, and a deleted device must not stay visible for a cache timeout.  So every
component of every path is looked up again, and each lookup's answer carries the node's
attributes; those are kept for ``ATTRIBUTE_SECONDS``, because the kernel checks permissions
(``default_permissions``) on the attributes right after the lookup that fetched them and
would otherwise ask again (a second request per component).  A node's mode and size never
change while its path names it; only a directory's link count and an ``fstat()`` of a file
kept open may be that much behind.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import errno
import itertools
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from tcmu_scst.compat_sysfs.kernel_log import KernelLog
from tcmu_scst.compat_sysfs.names import DIRECTORY_XATTR
from tcmu_scst.compat_sysfs.nodes import (
    DIRECTORY,
    Attribute,
    Directory,
    Link,
    Node,
    Tree,
    error_number,
)
from tcmu_scst.compat_sysfs.one_command import check_write_call
from tcmu_scst.compat_sysfs.snapshot_xattr import encode_snapshot

log = logging.getLogger(__name__)

DEFAULT_MOUNTPOINT = "/run/scst_tgt"
FS_NAME = "scst_tgt"  # shown in /proc/mounts as "scst_tgt ... fuse.scst_tgt"
ATTRIBUTE_SIZE = 4096  # what sysfs reports for every attribute file, whatever its content
ATTRIBUTE_SECONDS = 1.0  # how long the kernel keeps a looked-up node's attributes
MNT_DETACH = 2
MAX_THREADS = 16
MAX_IDLE_THREADS = 4
_STALE = (errno.ENOTCONN, errno.ECONNABORTED)
ENOATTR = errno.ENODATA  # Linux's name for "no such extended attribute"


class MountError(RuntimeError):
    """The tree could not be mounted (the reason is in the message and libfuse's stderr)."""


@dataclass
class _OpenFile:
    path: str
    # None: opened write-only; OSError: the read failed and every read() reports it
    snapshot: bytes | OSError | None
    writes: int = 0  # write() calls so far, refused ones too (they leave the offset at 0)


class TreeOperations:
    """mfusepy operations for one Tree; methods raise OSError, which mfusepy turns into -errno.

    Only the callbacks defined here are registered with libfuse (mfusepy looks them up by
    name), which is why the refused operations are spelled out one by one.
    """

    use_ns = True  # timestamps in nanoseconds (mfusepy warns about float seconds otherwise)

    def __init__(self, tree: Tree, kernel_log: KernelLog | None = None):
        self.tree = tree
        self.kernel_log = kernel_log  # refusals also go there (SCST's tools say "see dmesg")
        self.ready = threading.Event()
        self._files: dict[int, _OpenFile] = {}
        self._handles = itertools.count(1)
        self._files_lock = threading.Lock()
        self._created_ns = time.time_ns()

    # -- mount set-up

    def init_with_config(self, conn: Any, config: Any) -> None:
        if config is not None:
            config.entry_timeout = 0.0
            config.negative_timeout = 0.0
            config.attr_timeout = ATTRIBUTE_SECONDS
        self.ready.set()

    # -- looking

    def getattr(self, path: str, fh: Any = None) -> dict[str, int]:
        with self.tree.lock:  # a directory's entries are counted with no command committing
            return self._attributes(self.tree.lookup(path))

    def _attributes(self, node: Node) -> dict[str, int]:
        attrs = {
            "st_mode": node.mode,
            "st_uid": 0,
            "st_gid": 0,
            "st_nlink": 1,
            "st_size": 0,
            "st_atime": self._created_ns,
            "st_mtime": self._created_ns,
            "st_ctime": self._created_ns,
        }
        if isinstance(node, Directory):
            attrs["st_nlink"] = 2 + node.subdirectory_count()
        elif isinstance(node, Link):
            attrs["st_size"] = len(os.fsencode(node.target))
        else:
            attrs["st_size"] = ATTRIBUTE_SIZE
        return attrs

    def readdir(self, path: str, fh: Any) -> list[tuple[str, int, int]]:
        with self.tree.lock:
            node = self.tree.lookup(path)
            if not isinstance(node, Directory):
                raise OSError(errno.ENOTDIR, f"{path}: not a directory")
            entries = sorted(node.entries().items())
        listing = [(".", node.mode, 0), ("..", DIRECTORY, 0)]
        listing += [(name, child.mode, 0) for name, child in entries]
        return listing

    def readlink(self, path: str) -> str:
        node = self.tree.lookup(path)
        if not isinstance(node, Link):
            raise OSError(errno.EINVAL, f"{path}: not a symbolic link")
        return node.target

    def listxattr(self, path: str) -> list[str]:
        """None listed, as on sysfs: copying tools (``cp -a``, ``rsync -X``) take none, and the
        one that directories answer is asked for by name."""
        return []

    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        """Only :data:`DIRECTORY_XATTR` of a directory: its entries and those below it in
        one request (see snapshot_xattr); every other name is absent, as on sysfs."""
        if name != DIRECTORY_XATTR:
            raise OSError(ENOATTR, f"{path}: no extended attribute {name}")
        try:
            return encode_snapshot(self.tree, path)
        except OSError as error:
            if error.errno == errno.ENOTDIR:  # files and links have no such attribute
                raise OSError(ENOATTR, f"{path}: no extended attribute {name}") from None
            raise

    # -- open files

    def open(self, path: str, fi: Any) -> int:
        attribute = self._attribute(path)
        access = fi.flags & os.O_ACCMODE
        reads = access in (os.O_RDONLY, os.O_RDWR)
        writes = access in (os.O_WRONLY, os.O_RDWR)
        if (reads and attribute.read is None) or (writes and attribute.write is None):
            raise OSError(errno.EACCES, f"{path}: wrong direction for this file")
        opened = _OpenFile(path, self._render(path, attribute) if reads else None)
        with self._files_lock:
            handle = next(self._handles)
            self._files[handle] = opened
        fi.fh = handle
        fi.direct_io = 1
        fi.keep_cache = 0
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        snapshot = self._file(fi).snapshot
        if snapshot is None:
            raise OSError(errno.EBADF, f"{path}: not open for reading")
        if isinstance(snapshot, OSError):
            raise OSError(snapshot.errno, snapshot.strerror)
        return snapshot[offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        # The written text is never logged: CHAP secrets pass through here.
        opened = self._file(fi)
        with self._files_lock:
            earlier = opened.writes
            opened.writes += 1
        try:
            check_write_call(offset, earlier, len(data))  # before decoding a whole MiB
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise OSError(errno.EINVAL, "not UTF-8 text") from None
            self.tree.write(opened.path, text)
        except OSError as error:
            code = error_number(error)
            reason = (f"{opened.path}: write failed with {errno.errorcode.get(code, code)}: "
                      f"{error.strerror or error}")
            log.warning("%s", reason)
            if self.kernel_log is not None:
                self.kernel_log.refusal(reason)
            raise OSError(code, error.strerror) from None
        except Exception:
            log.exception("%s: write failed", opened.path)
            raise OSError(errno.EIO, "internal error") from None
        log.debug("%s: write of %d bytes done", opened.path, len(data))
        return len(data)

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        """Accepted on writable files: a shell's ``>`` truncates before it writes."""
        attribute = self._attribute(path)
        if attribute.write is None:
            raise OSError(errno.EACCES, f"{path}: not writable")
        return 0

    def release(self, path: str, fi: Any) -> int:
        with self._files_lock:
            self._files.pop(fi.fh, None)
        return 0

    # -- refused like sysfs refuses them

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        raise OSError(errno.EACCES, f"{path}: files cannot be created here")

    def mknod(self, path: str, mode: int, dev: int) -> int:
        raise OSError(errno.EACCES, f"{path}: files cannot be created here")

    def _refuse(self, *args: Any) -> int:
        raise OSError(errno.EPERM, "operation not permitted in the SCST tree")

    mkdir = rmdir = unlink = rename = symlink = link = _refuse
    chmod = chown = utimens = _refuse

    # -- helpers

    def _attribute(self, path: str) -> Attribute:
        node: Node = self.tree.lookup(path)
        if isinstance(node, Directory):
            raise OSError(errno.EISDIR, f"{path}: is a directory")
        if not isinstance(node, Attribute):
            raise OSError(errno.EACCES, f"{path}: not a file")
        return node

    def _render(self, path: str, attribute: Attribute) -> bytes | OSError:
        try:
            return self.tree.render(attribute, path).encode("utf-8")
        except OSError as error:
            log.info("%s: read failed: %s", path, error.strerror or error)
            return error

    def _file(self, fi: Any) -> _OpenFile:
        opened = self._files.get(fi.fh)
        if opened is None:
            raise OSError(errno.EBADF, "unknown file handle")
        return opened


class MountHandle:
    """A mounted (or, after a foreground run, finished) tree; ``unmount`` is idempotent."""

    def __init__(self, mountpoint: str, thread: threading.Thread | None):
        self.mountpoint = mountpoint
        self._thread = thread

    @property
    def mounted(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def unmount(self, timeout: float = 10.0) -> None:
        """Unmount and wait for libfuse's loop to end.

        A mount still in use (an open file, a shell's working directory) is detached lazily:
        it disappears from the namespace at once and the loop ends when the last user leaves.
        """
        atexit.unregister(self.unmount)
        if not self.mounted:
            return
        try:
            _detach(self.mountpoint, lazy=False)
        except OSError as error:
            if error.errno == errno.EBUSY:
                log.warning("%s: busy, detaching it lazily", self.mountpoint)
                _detach(self.mountpoint, lazy=True)
            elif error.errno != errno.EINVAL:  # EINVAL: already unmounted by someone else
                raise
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s: FUSE loop still running after unmount", self.mountpoint)

    def __enter__(self) -> MountHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()


def mount(
    tree: Tree,
    mountpoint: str = DEFAULT_MOUNTPOINT,
    foreground: bool = False,
    timeout: float = 10.0,
    kernel_log: KernelLog | None = None,
) -> MountHandle:
    """Serve ``tree`` at ``mountpoint``.

    In the background the loop runs in a daemon thread and this returns once the kernel has
    connected; the mount is removed by ``unmount()`` or at interpreter exit (SIGTERM and SIGHUP,
    if still at their default, become SystemExit for that: see _keep_termination_signals).  In
    the foreground it returns only after the file system was unmounted (by SIGINT, SIGTERM,
    SIGHUP, which libfuse then handles, or ``umount``).
    """
    fuse = _load_mfusepy()
    _prepare_mountpoint(mountpoint)
    operations = TreeOperations(tree, kernel_log)
    options = {
        "foreground": True,  # never let libfuse fork: the caller decides where the loop runs
        "raw_fi": True,  # open() needs the fuse_file_info to set direct_io
        "allow_other": True,
        "default_permissions": True,
        "fsname": FS_NAME,
        "subtype": FS_NAME,
        # a management command may take seconds; reads must not queue behind it.  Setting both
        # also keeps libfuse 3.14 from warning about its own unset default on stderr.
        "max_threads": MAX_THREADS,
        "max_idle_threads": MAX_IDLE_THREADS,
    }
    if foreground:
        try:
            fuse.FUSE(operations, mountpoint, **options)
        except RuntimeError as error:
            raise MountError(f"cannot mount the SCST tree on {mountpoint}: {error}") from error
        return MountHandle(mountpoint, None)

    failure: list[BaseException] = []

    def serve() -> None:
        try:
            fuse.FUSE(operations, mountpoint, **options)
        except BaseException as error:
            failure.append(error)
        log.info("%s: FUSE loop ended", mountpoint)

    _keep_termination_signals()
    thread = threading.Thread(target=serve, name=f"fuse {mountpoint}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not operations.ready.wait(0.02):
        if not thread.is_alive():
            reason = f": {failure[0]}" if failure else ""
            raise MountError(f"cannot mount the SCST tree on {mountpoint}{reason}")
        if time.monotonic() > deadline:
            handle = MountHandle(mountpoint, thread)
            handle.unmount(timeout=1.0)
            raise MountError(f"{mountpoint}: the kernel did not connect in {timeout} s")
    handle = MountHandle(mountpoint, thread)
    atexit.register(handle.unmount)
    log.info("SCST tree mounted on %s", mountpoint)
    return handle


LIBFUSE3 = "fuse3"  # the library the tree is written for (max_threads, raw_fi, ...)


def _load_mfusepy() -> Any:
    """Imported on first mount: mfusepy loads libfuse when imported and fails without it.

    mfusepy prefers libfuse 2 when both are installed (any host with ceph-osd has libfuse2),
    and the tree then fails to mount on libfuse 3's options: so libfuse 3 is named
    explicitly, unless the user chose a library with ``FUSE_LIBRARY_PATH``.
    """
    if not os.environ.get("FUSE_LIBRARY_PATH"):
        found = ctypes.util.find_library(LIBFUSE3)
        if found is None:
            raise MountError("libfuse3 is not installed (Debian: apt-get install fuse3)")
        os.environ["FUSE_LIBRARY_PATH"] = found
    try:
        import mfusepy  # noqa: PLC0415
    except (ImportError, OSError) as error:
        raise MountError(f"libfuse3 or mfusepy is not usable: {error}") from error
    return mfusepy


def _prepare_mountpoint(mountpoint: str) -> None:
    """Create the mountpoint, clear a dead daemon's mount and refuse a live one."""
    for _ in range(8):  # each stale layer is detached in turn
        try:
            os.stat(mountpoint)
        except FileNotFoundError:
            os.makedirs(mountpoint, mode=0o755, exist_ok=True)
            continue
        except OSError as error:
            if error.errno not in _STALE:
                raise
            log.warning("%s: stale FUSE mount left by a dead daemon; detaching it", mountpoint)
            _detach(mountpoint, lazy=True)
            continue
        if os.path.ismount(mountpoint):
            raise MountError(f"{mountpoint} is already a mount point (is a daemon running?)")
        return
    raise MountError(f"{mountpoint}: could not clear the stale mounts on it")


def _detach(mountpoint: str, lazy: bool) -> None:
    """umount2(2) as root; fusermount3 otherwise (it is setuid and checks the mount's owner)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(os.fsencode(mountpoint), MNT_DETACH if lazy else 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"umount {mountpoint}: {os.strerror(code)}")
        return
    command = ["fusermount3", "-u", *(["-z"] if lazy else []), mountpoint]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        code = errno.EBUSY if "busy" in result.stderr else errno.EPERM
        raise OSError(code, result.stderr.strip())


def _keep_termination_signals() -> None:
    """Keep SIGTERM and SIGHUP able to end the process while the loop runs in a thread.

    libfuse installs its own handler for any of them left at the default, and that handler
    only ends the FUSE loop: the process would stay alive without its tree.  Turning them into
    SystemExit lets the program exit, and the atexit hook unmounts.  Only the main thread may
    set handlers; a program that mounts from another thread must set its own first.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _exit_on_signal)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
