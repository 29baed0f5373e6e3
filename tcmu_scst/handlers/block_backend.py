"""A block device as a backend (SCST's vdisk_blockio): O_DIRECT, no page cache in between.

The device is opened with O_DIRECT so that the target never keeps a second copy of the data in
the page cache and a write is on its way to the device when the command completes.  O_DIRECT
wants memory, offsets and lengths aligned to the device's logical block size.  The TCMU data
area is page aligned and its blocks are whole pages (tcmu.md §1.7), so a READ or WRITE's
iovecs normally qualify and go to ``preadv``/``pwritev`` as they are (zero copy); anything that
does not (a private buffer at an odd address, a read-only buffer) is copied through an aligned
bounce buffer instead.

A synchronous O_DIRECT call always waits for the device: ``RWF_NOWAIT`` only keeps it from
waiting for *resources* (request slots), not for the I/O itself.  So ``nowait=True`` is
refused with BlockingIOError in direct mode and every transfer runs on an I/O thread, where
waiting costs the ring nothing.

Geometry (size, logical block size) comes from the block layer's ioctls, discard and
rotational properties from the queue's sysfs directory.  The probe and the discard and
zeroing requests can be replaced, which lets the unit tests drive the same code over a
regular file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import mmap
import os
import queue
import stat
import struct
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..uio.ring import zero_fill
from .backend import BLKPBSZGET, Backend
from .backing_files import kind
from .sense import NOT_READY, CheckCondition, medium_error

log = logging.getLogger(__name__)

# <linux/fs.h> block ioctls: _IO(0x12, nr), and _IOR(0x12, 114, size_t) for the 64-bit size
BLKSSZGET = 0x1268  # logical block size (int)
BLKDISCARD = 0x1277  # struct { u64 start; u64 length; } in bytes
BLKZEROOUT = 0x127F  # struct { u64 start; u64 length; } in bytes
BLKGETSIZE64 = 0x80081272  # size in bytes (u64)

BOUNCE_BYTES = 1 << 20  # one maximum-size command (DiskSettings.max_transfer_bytes)
SYSFS_BLOCK = Path("/sys/dev/block")


@dataclass(frozen=True)
class BlockGeometry:
    """What the block layer says about a device, read once when it is opened."""

    size: int
    logical_block_size: int = 512
    physical_block_size: int = 512
    discard_granularity: int = 0  # bytes; 0 with discard_max_bytes 0 means no discard
    discard_max_bytes: int = 0
    rotational: bool = True


Probe = Callable[[int], BlockGeometry]
Discard = Callable[[int, int, int], None]  # (fd, offset, length): BLKDISCARD, BLKZEROOUT


def not_a_block_device(path: str, mode: int | None = None) -> OSError:
    what = f"a {kind(mode)}, " if mode is not None else ""
    return OSError(errno.EINVAL, f"{path} is {what}not a block device (vdisk_blockio serves "
                                 f"block devices; use vdisk_fileio for regular files)")


def require_block_device(path: str) -> None:
    """Refuse anything but a block device before opening it, with a message that says why."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise OSError(error.errno, f"{path}: {error.strerror}") from None
    if not stat.S_ISBLK(mode):
        raise not_a_block_device(path, mode)


def backing_gone() -> CheckCondition:
    """LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED: the block device behind the
    disk has gone.  Not "cause not reportable" (04/00): Linux answers that one with START
    UNIT and retries for a minute and a half; 04/03 tells it to stop and wait."""
    return CheckCondition(NOT_READY, 0x04, 0x03)


def _release(fd: int, bounce: BouncePool) -> None:
    os.close(fd)
    bounce.close()


def _ioctl_int(fd: int, request: int, fmt: str) -> int:
    buffer = bytearray(struct.calcsize(fmt))
    fcntl.ioctl(fd, request, buffer)
    return struct.unpack(fmt, buffer)[0]


def _sysfs_number(path: Path, default: int) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def queue_directory(device_directory: Path) -> Path:
    """The request queue's sysfs directory; a partition has none and uses its disk's."""
    device_directory = device_directory.resolve()
    own = device_directory / "queue"
    return own if own.is_dir() else device_directory.parent / "queue"


def queue_limits(device_directory: Path) -> dict[str, int]:
    """Discard limits and rotational flag from ``queue/`` (0 / rotational where unreadable)."""
    directory = queue_directory(device_directory)
    return {
        "discard_granularity": _sysfs_number(directory / "discard_granularity", 0),
        "discard_max_bytes": _sysfs_number(directory / "discard_max_bytes", 0),
        "rotational": _sysfs_number(directory / "rotational", 1),
    }


def probe_block_device(fd: int) -> BlockGeometry:
    """Size and logical/physical block size by ioctl; discard and rotational from sysfs."""
    status = os.fstat(fd)
    if not stat.S_ISBLK(status.st_mode):
        raise not_a_block_device(f"/proc/self/fd/{fd}")
    limits = queue_limits(SYSFS_BLOCK / f"{os.major(status.st_rdev)}:{os.minor(status.st_rdev)}")
    return BlockGeometry(
        size=_ioctl_int(fd, BLKGETSIZE64, "Q"),
        logical_block_size=_ioctl_int(fd, BLKSSZGET, "i"),
        physical_block_size=_ioctl_int(fd, BLKPBSZGET, "I"),
        discard_granularity=limits["discard_granularity"],
        discard_max_bytes=limits["discard_max_bytes"],
        rotational=bool(limits["rotational"]),
    )


def blkdiscard(fd: int, offset: int, length: int) -> None:
    """BLKDISCARD: tell the device the range's contents are no longer needed."""
    fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", offset, length))


def blkzeroout(fd: int, offset: int, length: int) -> None:
    """BLKZEROOUT: make the range read as zeros (the device may unmap it to do so)."""
    fcntl.ioctl(fd, BLKZEROOUT, struct.pack("QQ", offset, length))


def _address(view: memoryview) -> int:
    """Where a writable buffer starts in memory (the ctypes object is dropped at once, so the
    buffer can still be released afterwards)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _pieces(views: list[memoryview], start: int, length: int) -> Iterator[tuple[memoryview, int]]:
    """The parts of a scattered buffer holding its bytes ``[start, start + length)``, each
    with its position relative to ``start``."""
    end = start + length
    position = 0
    for view in views:
        size = view.nbytes
        low, high = max(start, position), min(end, position + size)
        if low < high:
            yield view[low - position : high - position], low - start
        position += size
        if position >= end:
            break


def _scatter(views: list[memoryview], start: int, data: memoryview) -> None:
    for part, at in _pieces(views, start, data.nbytes):
        part[:] = data[at : at + part.nbytes]


def _gather(views: list[memoryview], start: int, out: memoryview) -> None:
    for part, at in _pieces(views, start, out.nbytes):
        out[at : at + part.nbytes] = part


class BouncePool:
    """Aligned scratch buffers for transfers O_DIRECT cannot take as they are.

    One per I/O thread that needs it at a time, kept for reuse: anonymous mappings are page
    aligned, and over-allocated when the device wants more than a page.
    """

    def __init__(self, alignment: int, size: int = BOUNCE_BYTES):
        self.alignment = alignment
        self.size = -(-size // alignment) * alignment
        self._free: queue.SimpleQueue[tuple[mmap.mmap, memoryview]] = queue.SimpleQueue()
        self._all: list[tuple[mmap.mmap, memoryview]] = []

    def _allocate(self) -> tuple[mmap.mmap, memoryview]:
        extra = self.alignment if self.alignment > mmap.PAGESIZE else 0
        mapping = mmap.mmap(-1, self.size + extra)
        whole = memoryview(mapping)
        skip = -_address(whole) % self.alignment
        buffer = (mapping, whole[skip : skip + self.size])
        whole.release()
        self._all.append(buffer)
        return buffer

    @contextlib.contextmanager
    def buffer(self) -> Iterator[memoryview]:
        try:
            taken = self._free.get_nowait()
        except queue.Empty:
            taken = self._allocate()
        try:
            yield taken[1]
        finally:
            self._free.put(taken)

    def close(self) -> None:
        for mapping, view in self._all:
            view.release()
            # a slice may outlive us (in a traceback, say): then it unmaps when that goes
            with contextlib.suppress(BufferError):
                mapping.close()
        self._all.clear()


def _open(path: str, read_only: bool, o_direct: bool) -> tuple[int, bool]:
    """Open with O_DIRECT when asked and possible; returns the fd and whether it is direct."""
    flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC
    if o_direct:
        try:
            return os.open(path, flags | os.O_DIRECT), True
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            log.warning("%s refuses O_DIRECT (%s): using the page cache instead, so data "
                        "is copied once more and written back later", path, error.strerror)
    return os.open(path, flags), False


class BlockBackend(Backend):
    """A block device read and written with O_DIRECT preadv/pwritev (see the module doc)."""

    resizable = True

    def __init__(self, path: str | Path, read_only: bool = False, o_direct: bool = True,
                 probe: Probe | None = None, discard: Discard = blkdiscard,
                 zeroout: Discard = blkzeroout):
        self.path = str(path)
        if probe is None:
            require_block_device(self.path)
            probe = probe_block_device
        self.read_only = read_only
        self.fd, self.direct = _open(self.path, read_only, o_direct)
        try:
            geometry = probe(self.fd)
            status = os.fstat(self.fd)
        except BaseException:
            os.close(self.fd)
            raise
        # where the kernel lists the device while it exists (None for regular files in tests)
        self._sysfs: Path | None = None
        if stat.S_ISBLK(status.st_mode):
            self._sysfs = SYSFS_BLOCK / f"{os.major(status.st_rdev)}:{os.minor(status.st_rdev)}"
        self._probe = probe
        self._discard = discard
        self._zeroout = zeroout
        self.geometry = geometry
        self.size = geometry.size
        self.logical_block_size = geometry.logical_block_size
        self.physical_block_size = geometry.physical_block_size
        self.rotational = geometry.rotational
        self.can_deallocate = geometry.discard_max_bytes > 0 and not read_only
        self.deallocate_granularity = geometry.discard_granularity
        self.max_deallocate_bytes = geometry.discard_max_bytes
        # BLKDISCARD promises nothing about what a discarded range reads back as
        self.deallocate_zeroes = False
        # buffered mode only: RWF_NOWAIT until the device says it does not support it
        self.nowait_reads = self.nowait_writes = not self.direct
        self._alignment_mask = geometry.logical_block_size - 1
        self._bounce = BouncePool(max(geometry.logical_block_size, 512))
        self._bounce_noted = False
        log.info("%s: %d bytes, logical block %d, %s, discard %s", self.path, self.size,
                 self.logical_block_size, "O_DIRECT" if self.direct else "page cache",
                 f"granularity {self.deallocate_granularity} max {self.max_deallocate_bytes}"
                 if self.can_deallocate else "unsupported")

    def refresh_size(self) -> int:
        """Re-read the device's size (after it was resized underneath us)."""
        self.size = self._probe(self.fd).size
        return self.size

    def aligned(self, views: list[memoryview], offset: int, length: int) -> bool:
        """Whether O_DIRECT can take the transfer as it is: offset, length and every buffer's
        address and size multiples of the logical block size."""
        mask = self._alignment_mask
        if (offset | length) & mask:
            return False
        for view in views:
            size = view.nbytes
            if size & mask or (size and (view.readonly or _address(view) & mask)):
                return False
        return True

    def _note_bounce(self) -> None:
        if not self._bounce_noted:
            self._bounce_noted = True
            log.info("%s: a transfer is not aligned to %d bytes; such transfers are copied "
                     "through an aligned buffer", self.path, self.logical_block_size)

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        """Fill ``views`` (``length`` bytes in all) from ``offset``."""
        flags = 0
        if nowait:
            if self.direct or not self.nowait_reads:
                raise BlockingIOError(errno.EAGAIN, "the read waits for the device")
            flags = os.RWF_NOWAIT
        try:
            if not self.direct or self.aligned(views, offset, length):
                self._read_into(views, offset, length, flags)
            else:
                self._bounce_read(views, offset, length)
        except BlockingIOError:
            raise
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP and flags:
                self.nowait_reads = False
                raise BlockingIOError(errno.EAGAIN, "RWF_NOWAIT unsupported") from None
            log.warning("%s: read of %d bytes at %d failed: %s", self.path, length, offset,
                        error)
            raise self._failure(write=False) from error

    def _read_into(self, views: list[memoryview], offset: int, length: int, flags: int) -> None:
        done = os.preadv(self.fd, views, offset, flags)
        while done < length:
            if flags and done > 0:  # part of it is not cached: read it all on a thread
                raise BlockingIOError(errno.EAGAIN, "partially cached")
            rest = [part for part, _ in _pieces(views, done, length - done)]
            more = os.preadv(self.fd, rest, offset + done)
            if more <= 0:
                zero_fill(views, done)  # past the end of the device reads as zeros
                return
            done += more

    def _bounce_read(self, views: list[memoryview], offset: int, length: int) -> None:
        """Read the block-aligned range covering the request into a bounce buffer, chunk by
        chunk, and copy the wanted bytes out of it."""
        self._note_bounce()
        mask = self._alignment_mask
        start, end = offset & ~mask, (offset + length + mask) & ~mask
        with self._bounce.buffer() as bounce:
            position = start
            while position < end:
                count = min(bounce.nbytes, end - position)
                chunk = bounce[:count]
                self._read_into([chunk], position, count, 0)
                low, high = max(position, offset), min(position + count, offset + length)
                _scatter(views, low - offset, chunk[low - position : high - position])
                position += count

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        """Store ``views`` (``length`` bytes in all) at ``offset``; ``sync`` makes it durable
        before returning (RWF_DSYNC: a FUA write or a cache flush on the device)."""
        flags = os.RWF_DSYNC if sync else 0
        if nowait:
            if self.direct or sync or not self.nowait_writes:
                raise BlockingIOError(errno.EAGAIN, "the write waits for the device")
            flags |= os.RWF_NOWAIT
        try:
            if not self.direct or self.aligned(views, offset, length):
                self._write_from(views, offset, length, flags)
            else:
                self._bounce_write(views, offset, length, flags)
        except BlockingIOError:
            raise
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP and flags & os.RWF_NOWAIT:
                self.nowait_writes = False
                raise BlockingIOError(errno.EAGAIN, "RWF_NOWAIT unsupported") from None
            log.warning("%s: write of %d bytes at %d failed: %s", self.path, length, offset,
                        error)
            raise self._failure(write=True) from error

    @property
    def gone(self) -> bool:
        """Whether the block device was removed under our open descriptor."""
        return self._sysfs is not None and not self._sysfs.exists()

    def _failure(self, write: bool) -> CheckCondition:
        """The sense for a failed transfer: NOT READY while the device is gone (the watcher
        takes it offline moments later), a medium error otherwise."""
        return backing_gone() if self.gone else medium_error(write=write)

    def _write_from(self, views: list[memoryview], offset: int, length: int,
                    flags: int) -> None:
        done = os.pwritev(self.fd, views, offset, flags)
        while done < length:
            if flags & os.RWF_NOWAIT and done > 0:
                raise BlockingIOError(errno.EAGAIN, "partial write")
            rest = [part for part, _ in _pieces(views, done, length - done)]
            more = os.pwritev(self.fd, rest, offset + done, flags & os.RWF_DSYNC)
            if more <= 0:
                raise OSError(errno.ENOSPC, "the device took no more data")
            done += more

    def _bounce_write(self, views: list[memoryview], offset: int, length: int,
                      flags: int) -> None:
        """Copy the data into a bounce buffer chunk by chunk and write it from there.  The
        range itself must be block aligned: part of a block cannot be written without
        reading the rest of it, and that read-modify-write would race other writers."""
        if (offset | length) & self._alignment_mask:
            raise ValueError(f"{self.path}: write of {length} bytes at {offset} is not a "
                             f"multiple of the logical block size {self.logical_block_size}")
        self._note_bounce()
        with self._bounce.buffer() as bounce:
            position = 0
            while position < length:
                count = min(bounce.nbytes, length - position)
                chunk = bounce[:count]
                _gather(views, position, chunk)
                self._write_from([chunk], offset + position, count, flags)
                position += count

    def flush(self) -> None:
        """fdatasync: for a block device, a cache flush down to the medium."""
        try:
            os.fdatasync(self.fd)
        except OSError as error:
            raise self._failure(write=True) from error

    def deallocate(self, offset: int, length: int) -> None:
        """Discard the whole discard granules inside the range and zero what is left of it.

        The callers rely on a released range reading as zeros (WRITE SAME of a zero block
        with UNMAP is served by releasing it), but a device can only discard whole granules:
        a 512-byte block inside a 4 KiB granule would keep its old data.  So the partial
        granules at either end are zeroed with BLKZEROOUT (which lets the device unmap them
        too, where it can), and so is everything when the device turns out not to discard.
        What a discarded granule reads back as is the device's business: BLKDISCARD promises
        nothing (``deallocate_zeroes`` is False); a loop device over a file returns zeros.
        """
        if not self.can_deallocate:
            return
        block = self.logical_block_size
        end = min(offset + length, self.size)
        start = -(-offset // block) * block
        end -= end % block
        if end <= start:
            return
        granule = max(self.deallocate_granularity, block)
        inner_start = -(-start // granule) * granule
        inner_end = end if end == self.size else end // granule * granule
        zero = [(start, end)]
        if inner_start < inner_end:
            zero = [(start, inner_start), (inner_end, end)]
            try:
                self._discard(self.fd, inner_start, inner_end - inner_start)
            except OSError as error:
                if error.errno not in (errno.EOPNOTSUPP, errno.ENOTTY):
                    log.warning("%s: discard of %d bytes at %d failed: %s", self.path,
                                inner_end - inner_start, inner_start, error)
                    raise medium_error(write=True) from error
                log.warning("%s: discard unsupported (%s); UNMAP releases nothing from now "
                            "on", self.path, error.strerror)
                self.can_deallocate = False
                zero = [(start, end)]
        for low, high in zero:
            if low < high:
                self._zero(low, high - low)

    def _zero(self, offset: int, length: int) -> None:
        try:
            self._zeroout(self.fd, offset, length)
        except OSError as error:
            log.warning("%s: zeroing %d bytes at %d failed: %s", self.path, length, offset,
                        error)
            raise medium_error(write=True) from error

    def extents(self, offset: int, length: int) -> list[tuple[int, int, bool]]:
        """All mapped: a block device does not say which of its blocks hold data."""
        return [(offset, max(0, min(offset + length, self.size) - offset), True)]

    def close(self) -> None:
        os.close(self.fd)
        self._bounce.close()

    def close_when_unused(self) -> None:
        """Close once the last reference goes: commands still running on I/O threads hold
        one, and closing under them would let a reused descriptor number serve their
        transfer from another file."""
        weakref.finalize(self, _release, self.fd, self._bounce)
