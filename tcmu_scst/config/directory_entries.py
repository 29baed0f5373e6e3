"""A directory of our FUSE tree, and what fits of the tree below it, in one request (see
``DIRECTORY_XATTR`` and ``compat_sysfs.snapshot_xattr``).

Listed and read entry by entry, a directory of the tree costs the daemon a listing, four
requests per file (lookup, open, read, release) and two per link (lookup, readlink).  The
config tool compares whole configurations, so that is most of its time, and under a slow
CPU most of a ``-config`` run.  The daemon answers one extended attribute of an open
directory with every entry instead.  ``os.getxattr`` would ask twice (first with a 128-byte
buffer, then again after ERANGE), so libc's ``fgetxattr`` is called with a buffer of the
kernel's maximum at once.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import threading
from dataclasses import dataclass
from typing import Any

from tcmu_scst.compat_sysfs.names import DIRECTORY_XATTR, XATTR_SIZE_MAX

# the tree has no such attribute: SCST's sysfs, or an older daemon of ours
UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.ENOSYS)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fgetxattr.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)
_libc.fgetxattr.restype = ctypes.c_ssize_t
_NAME = DIRECTORY_XATTR.encode()
_BUFFER = ctypes.create_string_buffer(XATTR_SIZE_MAX)  # one, not 64 KiB zeroed per request
_BUFFER_LOCK = threading.Lock()


class Unsupported(Exception):
    """The tree does not answer the attribute: read entry by entry from now on."""


@dataclass(frozen=True)
class Entry:
    """One entry of a directory: its kind (``dir``, ``file``, ``link``), its mode, and a
    file's text (or the error its read gives), a link's target, or a directory's entries
    when they came along; None for a directory that did not and for a file that came
    without its text (read it to know)."""

    kind: str
    mode: int
    shown: str | OSError | dict[str, Entry] | None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "file"


def directory_entries(fd: int) -> dict[str, Entry] | None:
    """The entries of the open directory ``fd``, by name; None when this directory's
    answer does not fit one request (read it entry by entry).  Raises
    :class:`Unsupported` for a tree that has no such attribute."""
    with _BUFFER_LOCK:
        size = _libc.fgetxattr(fd, _NAME, _BUFFER, XATTR_SIZE_MAX)
        if size < 0:
            code = ctypes.get_errno()
            if code in UNSUPPORTED:
                raise Unsupported(os.strerror(code))
            return None  # too large (E2BIG, ERANGE), or gone: the entries' own reads say
        answer = _BUFFER.raw[:size]
    return _entries(json.loads(answer))


def _entries(wire: dict[str, list[Any]]) -> dict[str, Entry]:
    entries = {}
    for name, (mode, answer) in wire.items():
        shown: str | OSError | dict[str, Entry] | None = answer
        if isinstance(answer, int):
            shown = OSError(answer, os.strerror(answer))
        elif isinstance(answer, dict):
            shown = _entries(answer)
        entries[name] = Entry(_kind(mode), mode, shown)
    return entries
