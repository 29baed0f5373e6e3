"""``vdisk_ramdisk``: a disk kept in this process's memory, whose unwritten blocks read as a
pattern.

Creation parameters: ``size_mb`` (required), ``pattern`` (what a block reads as until it is
written: 1, 2, 4, 8 or 16 bytes in hex, repeated; default ``0x00``) and the parameters every
SCST vdisk has (``blocksize``, ``read_only``, ``removable``, ``rotational``, ``tst``,
``t10_dev_id``), e.g.::

    echo "add_device ram1 size_mb=256; pattern=0xdeadbeef" \
        > /run/scst_tgt/handlers/vdisk_ramdisk/mgmt

The parameters are parsed and checked by the declaration (in the daemon, before anything
is made); ``create`` runs in the device's worker.  The data lives in an anonymous mapping of
that worker: it is lost when the worker stops (a daemon restart brings the device back,
empty).  Nothing touches the memory until the first command: the pattern is written into
the mapping then, and the pages of a ``0x00`` disk are only taken when written.  Since the
mapping always holds exactly what a read returns, the ring's compiled fast lane may copy
through it.

Written against the public handler API (``tcmu_scst.handlers.api``) only.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
from dataclasses import replace
from typing import Any

from tcmu_scst.handlers.api import (
    COMMON_DISK,
    DIRECT_ACCESS_DEVICE,
    DISK_CHECKS,
    Backend,
    BlockDevice,
    HandlerDeclaration,
    Key,
    Param,
    Parameters,
    at_least,
    disk_settings,
    identity,
    invalid,
)

HANDLER = "vdisk_ramdisk"
VENDOR = "RAMDISK"
DEFAULT_PATTERN = "0x00"
PATTERN_LENGTHS = (1, 2, 4, 8, 16)  # powers of two: every block starts the pattern afresh
PATTERN_TEXT = re.compile(r"(?:0[xX])?([0-9a-fA-F]+)")
FILL_CHUNK = 1 << 20


def parse_pattern(name: str, text: str) -> bytes:
    """The bytes ``pattern=TEXT`` names (the parameter's parser); EINVAL saying what to give
    otherwise."""
    match = PATTERN_TEXT.fullmatch(text.strip())
    digits = match.group(1) if match else ""
    if len(digits) % 2 or len(digits) // 2 not in PATTERN_LENGTHS:
        raise invalid(f"{name}={text!r}: give what unwritten blocks read as, 1, 2, 4, 8 or "
                      "16 bytes in hex (2, 4, 8, 16 or 32 hex digits), e.g. pattern=0xff or "
                      "pattern=0xdeadbeef")
    return bytes.fromhex(digits)


def memory_bytes() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class MemoryStore(Backend):
    """The disk's bytes in an anonymous private mapping, filled with the pattern on first
    use (from the worker: the first command, or the fast lane asking for the buffer)."""

    in_memory = True  # nothing here sleeps: served inline

    def __init__(self, size: int, pattern: bytes):
        self.size = size
        self.pattern = pattern
        self._map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)  # pages come when touched
        self._bytes = memoryview(self._map)
        self._filled = not any(pattern)  # fresh anonymous memory already reads as zeros
        self._fill_lock = threading.Lock()

    def _store(self) -> memoryview:
        if not self._filled:
            with self._fill_lock:
                if not self._filled:
                    chunk = self.pattern * (FILL_CHUNK // len(self.pattern))
                    for offset in range(0, self.size, FILL_CHUNK):
                        end = min(offset + FILL_CHUNK, self.size)
                        self._bytes[offset:end] = chunk[:end - offset]
                    self._filled = True
        return self._bytes

    def read(self, views: list[memoryview], offset: int, length: int, nowait: bool) -> None:
        store = self._store()
        for view in views:
            end = offset + len(view)
            view[:] = store[offset:end]
            offset = end

    def write(self, views: list[memoryview], offset: int, length: int, nowait: bool,
              sync: bool) -> None:
        store = self._store()
        for view in views:
            end = offset + len(view)
            store[offset:end] = view
            offset = end

    def lane_store(self) -> tuple[Any, int]:
        """The mapping holds what every read returns, pattern included: the lane copies
        through it."""
        self._store()
        return self._map, self.size

    def close(self) -> None:
        self._bytes.release()
        self._map.close()


def size_fits(params: Parameters) -> None:
    """A check of the declaration: a size is given, fits in memory and in whole blocks."""
    size_mb = params["size_mb"]
    if size_mb is None:
        raise invalid("size_mb required: add size_mb=N, the disk's size in MiB of memory")
    if size_mb << 20 > memory_bytes():
        raise invalid(f"size_mb={size_mb} is more than this machine's memory "
                      f"({memory_bytes() >> 20} MiB)")
    if (size_mb << 20) % params["blocksize"]:
        raise invalid(f"size_mb={size_mb} is no multiple of the block size "
                      f"{params['blocksize']}")


def create(name: str, params: Parameters) -> BlockDevice:
    """Runs in the device's worker, with parameters the declaration parsed and checked."""
    store = MemoryStore(params["size_mb"] << 20, params["pattern"])
    return BlockDevice(identity(name, params, VENDOR), store, disk_settings(params))


def _common(param: Param) -> Param:
    if param.name == "rotational":
        return replace(param, default="0", help="1: reported as a rotating medium (default "
                       "0: memory, solid state)")
    return param


DECLARATION = HandlerDeclaration(
    name=HANDLER,
    scsi_type=DIRECT_ACCESS_DEVICE,
    vendor=VENDOR,
    params=(
        *(_common(param) for param in COMMON_DISK),
        Param("size_mb", key=Key.ALWAYS, parse=at_least(1),
              help="size in MiB (required): the memory the disk takes once written"),
        Param("size", creation=False, key=Key.NEVER, help="size in bytes"),
        Param("pattern", DEFAULT_PATTERN, parse=parse_pattern,
              help="what unwritten blocks read as: 1, 2, 4, 8 or 16 bytes in hex, repeated "
                   "(e.g. 0xff, 0xdeadbeef)"),
    ),
    advertised=("blocksize", "pattern", "read_only", "removable", "rotational", "size_mb",
                "t10_dev_id", "tst"),
    checks=(*DISK_CHECKS, size_fits),
    create=create,
)
