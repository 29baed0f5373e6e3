"""What may back a disk: a regular file or a block device, told apart before anything opens it.

Opening anything else can block or misbehave: opening a FIFO for reading waits for a writer
(the daemon's management thread hung there holding the tree's lock, so every read of the
tree waited too), a FIFO opened read-write cannot seek, opening a character device can have
effects of its own, a socket is no disk, and a directory opens read-only.  So the handlers
look at the path with stat() first, which never blocks, and refuse it with EINVAL and a
message naming its kind; vdisk_blockio narrows this to block devices (block_backend).  The
file backends open what passed with O_NONBLOCK and check the opened file again, so that a
path replaced in between cannot block either, and close it when that check fails.
"""

from __future__ import annotations

import errno
import os
import stat

KINDS = {
    stat.S_IFREG: "regular file",
    stat.S_IFBLK: "block device",
    stat.S_IFDIR: "directory",
    stat.S_IFCHR: "character device",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFSOCK: "socket",
    stat.S_IFLNK: "symbolic link",
}
DISK_KINDS = frozenset({stat.S_IFREG, stat.S_IFBLK})


def kind(mode: int) -> str:
    """What a file of ``mode`` is, in words."""
    return KINDS.get(stat.S_IFMT(mode), f"file of type {stat.S_IFMT(mode):#o}")


def refuse_unless_disk(path: str, mode: int) -> None:
    """Raise unless ``mode`` is a regular file's or a block device's."""
    if stat.S_IFMT(mode) in DISK_KINDS:
        return
    raise OSError(errno.EINVAL, f"{path} is a {kind(mode)}: a disk is stored in a regular "
                                "file or a block device; give the path of one")


def check_backing_path(path: str) -> None:
    """Refuse ``path`` without opening it unless it is a regular file or a block device (a
    symbolic link counts as what it points at)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise OSError(error.errno, f"{path}: {error.strerror}") from None
    refuse_unless_disk(path, mode)


def open_backing(path: str, flags: int) -> int:
    """``os.open`` for a backing file that cannot block: opened with O_NONBLOCK, checked to be
    a regular file or a block device (closed and refused otherwise), then made blocking."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        refuse_unless_disk(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd
