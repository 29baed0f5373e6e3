"""Storage backends: where a virtual disk's blocks live.

A backend moves bytes between scattered buffers (memoryviews into the TCMU data area) and its
store with one system call per command.  ``nowait=True`` asks it to fail with BlockingIOError
instead of sleeping (``RWF_NOWAIT``), so a command can be served inline when the data is in
the page cache and sent to an I/O thread otherwise.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import stat
from pathlib import Path
from typing import Protocol

from ..uio.ring import zero_fill
from .sense import medium_error

# File systems whose I/O never waits for a device: blocking calls on them are as quick as the
# non-blocking ones, so they run inline even though they refuse RWF_NOWAIT.
MEMORY_FILE_SYSTEMS = {0x01021994: "tmpfs", 0x858458F6: "ramfs", 0x958458F6: "hugetlbfs"}


def file_system_magic(fd: int) -> int | None:
    """statfs f_type of the file system holding ``fd`` (None where it cannot be read)."""
    buffer = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.fstatfs(fd, buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


class Backend(Protocol):
    size: int

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None: ...
    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class FileBackend:
    """A regular file or block device, read and written with preadv2/pwritev2."""

    def __init__(self, path: str | Path, read_only: bool = False, o_direct: bool = False):
        self.path = str(path)
        flags = os.O_RDONLY if read_only else os.O_RDWR
        if o_direct:
            flags |= os.O_DIRECT
        self.fd = os.open(self.path, flags | os.O_CLOEXEC)
        mode = os.fstat(self.fd).st_mode
        self.is_block_device = stat.S_ISBLK(mode)
        self.size = self._current_size()
        self.nowait_reads = hasattr(os, "RWF_NOWAIT")
        self.nowait_writes = hasattr(os, "RWF_NOWAIT")
        # Memory-backed files are served inline whatever RWF_NOWAIT says.
        self.in_memory = not self.is_block_device and not o_direct and (
            file_system_magic(self.fd) in MEMORY_FILE_SYSTEMS)

    def _current_size(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_END)

    def refresh_size(self) -> int:
        self.size = self._current_size()
        return self.size

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        """Fill ``views`` (``length`` bytes in all) from ``offset``."""
        flags = 0
        if nowait and not self.in_memory:
            if not self.nowait_reads:
                raise BlockingIOError(errno.EAGAIN, "no RWF_NOWAIT reads on this file")
            flags = os.RWF_NOWAIT
        wanted = length
        try:
            done = os.preadv(self.fd, views, offset, flags)
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP and nowait:
                self.nowait_reads = False
                raise BlockingIOError(errno.EAGAIN, "RWF_NOWAIT unsupported") from None
            if error.errno == errno.EAGAIN:
                raise
            raise medium_error(write=False) from error
        while done < wanted:
            if flags and done > 0:
                # part of the data is not cached: finish the whole read on a thread
                raise BlockingIOError(errno.EAGAIN, "partially cached")
            rest = _views_after(views, done)
            more = os.preadv(self.fd, rest, offset + done) if rest else 0
            if more <= 0:
                zero_fill(views, done)  # past the end of the file reads as zeros
                return
            done += more

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        """Store ``views`` (``length`` bytes in all) at ``offset``."""
        flags = os.RWF_DSYNC if sync else 0
        if nowait and not self.in_memory:
            if not self.nowait_writes or sync:
                raise BlockingIOError(errno.EAGAIN, "write needs a thread")
            flags |= os.RWF_NOWAIT
        wanted = length
        try:
            done = os.pwritev(self.fd, views, offset, flags)
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP and nowait:
                self.nowait_writes = False
                raise BlockingIOError(errno.EAGAIN, "RWF_NOWAIT unsupported") from None
            if error.errno == errno.EAGAIN:
                raise
            raise medium_error(write=True) from error
        while done < wanted:
            if flags & os.RWF_NOWAIT and done > 0:
                raise BlockingIOError(errno.EAGAIN, "partial write")
            more = os.pwritev(self.fd, _views_after(views, done), offset + done,
                              os.RWF_DSYNC if sync else 0)
            if more <= 0:
                raise medium_error(write=True)
            done += more

    def flush(self) -> None:
        try:
            os.fdatasync(self.fd)
        except OSError as error:
            raise medium_error(write=True) from error

    def close(self) -> None:
        os.close(self.fd)


class MappedFileBackend(FileBackend):
    """A file on a memory file system, served by copying through a shared mapping of it.

    On tmpfs a read or write is a memory copy either way; doing it in this process saves a
    system call per command, which is most of a command's cost when system calls are dear
    (virtual machines without hardware assistance).  Ranges outside the mapping (the file
    grew) fall back to the system calls.
    """

    def __init__(self, path: str | Path, read_only: bool = False):
        super().__init__(path, read_only=read_only)
        protection = mmap.PROT_READ if read_only else mmap.PROT_READ | mmap.PROT_WRITE
        self._map = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, protection)
        self._bytes = memoryview(self._map)
        self._mapped = self.size

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        if offset + length > self._mapped:
            super().read(views, offset, length, nowait)
            return
        source = self._bytes
        for view in views:
            end = offset + len(view)
            view[:] = source[offset:end]
            offset = end

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        if sync or offset + length > self._mapped:
            super().write(views, offset, length, nowait, sync)
            return
        target = self._bytes
        for view in views:
            end = offset + len(view)
            target[offset:end] = view
            offset = end

    def close(self) -> None:
        self._bytes.release()
        self._map.close()
        super().close()


def open_file_backend(path: str | Path, read_only: bool = False,
                      o_direct: bool = False) -> FileBackend:
    """The right backend for ``path``: mapped on memory file systems, system calls elsewhere."""
    backend = FileBackend(path, read_only=read_only, o_direct=o_direct)
    if backend.in_memory and backend.size > 0:
        backend.close()
        return MappedFileBackend(path, read_only=read_only)
    return backend


def _views_after(views: list[memoryview], skip: int) -> list[memoryview]:
    rest = []
    position = 0
    for view in views:
        end = position + len(view)
        if end > skip:
            rest.append(view[max(skip - position, 0) :])
        position = end
    return rest


class NullBackend:
    """No storage: writes vanish, reads return zeros (SCST's vdisk_nullio)."""

    def __init__(self, size: int):
        self.size = size

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        zero_fill(views, 0)

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
