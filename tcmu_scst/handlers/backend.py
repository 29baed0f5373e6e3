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
import fcntl
import functools
import mmap
import os
import stat
from pathlib import Path
from typing import Any

from ..uio.ring import zero_fill
from .backing_files import open_backing
from .sense import medium_error

# File systems whose I/O never waits for a device: blocking calls on them are as quick as the
# non-blocking ones, so they run inline even though they refuse RWF_NOWAIT.
MEMORY_FILE_SYSTEMS = {0x01021994: "tmpfs", 0x858458F6: "ramfs", 0x958458F6: "hugetlbfs"}


BLKPBSZGET = 0x127B  # ioctl: a block device's physical block size (unsigned int)
FALLOC_KEEP_SIZE = 0x01
FALLOC_PUNCH_HOLE = 0x02 | FALLOC_KEEP_SIZE  # punching must keep the size (fallocate(2))


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    return libc


def _clipped(offset: int, length: int, size: int) -> tuple[int, int]:
    end = min(offset + length, size)
    return offset, max(0, end - offset)


def file_system_magic(fd: int) -> int | None:
    """statfs f_type of the file system holding ``fd`` (None where it cannot be read)."""
    buffer = ctypes.create_string_buffer(256)  # struct statfs; f_type is its first word
    if _libc().fstatfs(fd, buffer) != 0:
        return None
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


class Backend:
    """Where a disk's blocks live: the few operations a handler's store provides.

    A store subclasses this and implements ``read`` and ``write``; everything else has a
    default that is right for a store without the capability.  Capabilities are declared
    here as class attributes (a subclass overrides them, or sets them per instance once it
    knows), never probed: the SCSI layer reads them to decide what it advertises.

    Errors: an operation raises :class:`~tcmu_scst.handlers.sense.CheckCondition` (e.g.
    ``medium_error``) for what the initiator must see; ``BlockingIOError`` from a call made
    with ``nowait=True`` means "not without sleeping" and the command is run again on an
    I/O thread; anything else becomes HARDWARE ERROR / internal target failure.
    """

    size: int = 0  # bytes
    # UNMAP: whether deallocate() releases storage, its preferred alignment and how much
    # one call handles well
    can_deallocate: bool = False
    deallocate_granularity: int = 0  # bytes (0: any)
    max_deallocate_bytes: int = 0  # bytes per call (0: unlimited)
    deallocate_zeroes: bool = True  # released ranges read back as zeros (LBPRZ)
    # calls never sleep on a device: served inline even when asked not to block
    in_memory: bool = False
    # it keeps what is written (WRITE AND VERIFY has something to compare against)
    stores_data: bool = True
    # its size can change under the device, so resync_size has something to do
    resizable: bool = False
    # the store's own unit of atomic writes, reported in READ CAPACITY(16) while the
    # device's lb_per_pb_exp is on (0: unknown, reported as one logical block)
    physical_block_size: int = 0

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        """Fill ``views`` (``length`` bytes in all) from byte ``offset``."""
        raise NotImplementedError

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        """Store ``views`` (``length`` bytes) at ``offset``; ``sync``: on stable storage
        before returning (FUA, write_through)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make every completed write stable (SYNCHRONIZE CACHE)."""
        return None

    def close(self) -> None:
        return None

    def deallocate(self, offset: int, length: int) -> None:
        """Release the storage of a byte range; it reads as zeros afterwards (only called
        when ``can_deallocate``)."""
        return None

    def extents(self, offset: int, length: int) -> list[tuple[int, int, bool]]:
        """(offset, length, mapped) runs covering the range, for GET LBA STATUS."""
        return [(offset, max(0, min(offset + length, self.size) - offset), True)]

    def refresh_size(self) -> int:
        """The store's size now, read again (resync_size); only called when
        ``resizable``."""
        return self.size

    def lane_store(self) -> tuple[Any, int] | None:
        """A buffer the ring's compiled fast lane may copy through and its length, or
        None where every command must come to Python (the default)."""
        return None


class FileBackend(Backend):
    """A regular file or block device, read and written with preadv2/pwritev2."""

    resizable = True

    def __init__(self, path: str | Path, read_only: bool = False, o_direct: bool = False):
        self.path = str(path)
        flags = os.O_RDONLY if read_only else os.O_RDWR
        if o_direct:
            flags |= os.O_DIRECT
        self.fd = open_backing(self.path, flags)  # a FIFO must neither block nor get this far
        try:
            mode = os.fstat(self.fd).st_mode
            self.is_block_device = stat.S_ISBLK(mode)
            self.size = self._current_size()
            self.deallocate_granularity = os.fstatvfs(self.fd).f_bsize
            self.physical_block_size = self._physical_block_size(mode)
            # Memory-backed files are served inline whatever RWF_NOWAIT says.
            self.in_memory = not self.is_block_device and not o_direct and (
                file_system_magic(self.fd) in MEMORY_FILE_SYSTEMS)
        except BaseException:
            os.close(self.fd)
            raise
        self.nowait_reads = hasattr(os, "RWF_NOWAIT")
        self.nowait_writes = hasattr(os, "RWF_NOWAIT")
        self.can_deallocate = not self.is_block_device and not read_only
        self.max_deallocate_bytes = 0

    def _current_size(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_END)

    def _physical_block_size(self, mode: int) -> int:
        """A block device's physical sector size; none for a regular file (its file
        system's block is no unit of atomic writes an initiator could align to, and LIO's
        own fileio reports none for files either)."""
        if not stat.S_ISBLK(mode):
            return 0
        value = bytearray(4)
        fcntl.ioctl(self.fd, BLKPBSZGET, value)
        return int.from_bytes(value, "little")

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

    def deallocate(self, offset: int, length: int) -> None:
        """Punch a hole (the file keeps its size); reads of it return zeros."""
        offset, length = _clipped(offset, length, self.size)
        if length and _libc().fallocate(self.fd, FALLOC_PUNCH_HOLE, ctypes.c_long(offset),
                                        ctypes.c_long(length)) != 0:
            error = ctypes.get_errno()
            if error in (errno.EOPNOTSUPP, errno.ENOSYS):
                self.can_deallocate = False
                return  # nothing released, but the data still reads back as written
            raise medium_error(write=True) from OSError(error, os.strerror(error))

    def extents(self, offset: int, length: int) -> list[tuple[int, int, bool]]:
        """Data and hole runs from SEEK_DATA/SEEK_HOLE (all mapped where unsupported)."""
        end = min(offset + length, self.size)
        runs: list[tuple[int, int, bool]] = []
        position = offset
        while position < end:
            try:
                data = os.lseek(self.fd, position, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:  # only a hole until the end of the file
                    runs.append((position, end - position, False))
                    break
                return [(offset, end - offset, True)]
            if data > position:
                runs.append((position, min(data, end) - position, False))
                position = min(data, end)
                continue
            hole = os.lseek(self.fd, position, os.SEEK_HOLE)
            runs.append((position, min(hole, end) - position, True))
            position = min(hole, end)
        return runs

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
        try:
            self._map = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, protection)
        except BaseException:
            os.close(self.fd)
            raise
        self._bytes = memoryview(self._map)
        self._mapped = self.size

    def lane_store(self) -> tuple[Any, int]:
        """The buffer the ring's fast lane may copy through, and how many bytes of it."""
        return self._map, self._mapped

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


class NullBackend(Backend):
    """No storage: writes vanish, reads return zeros (SCST's vdisk_nullio)."""

    can_deallocate = False
    deallocate_granularity = 0
    max_deallocate_bytes = 0
    stores_data = False  # WRITE AND VERIFY has nothing to compare against

    def __init__(self, size: int):
        self.size = size

    def lane_store(self) -> tuple[Any, int]:
        """No buffer: the ring's fast lane zero-fills reads and drops writes, as we do."""
        return None, self.size

    def deallocate(self, offset: int, length: int) -> None:
        return None

    def extents(self, offset: int, length: int) -> list[tuple[int, int, bool]]:
        return [(offset, max(0, min(offset + length, self.size) - offset), True)]

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        zero_fill(views, 0)

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
