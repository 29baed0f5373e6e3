"""Replacing a file in one step: a crash leaves the old file or the new one, never half of one.

A configuration file is what brings a system back after a reboot, so every one the project
writes (scst.conf by ``-write_config`` and by the daemon after each change, saveconfig.json
and scst.conf by the saveconfig converter) goes through :func:`write_atomically`: the text
goes to a temporary file in the same directory (so the rename cannot cross file systems), is
flushed to disk, and replaces the old file with one ``rename``; the directory is synced so the
rename survives a crash too.  The mode is set before any byte is written, so a file that will
hold CHAP secrets is never readable by others, not even for a moment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

PRIVATE = 0o600  # a file that holds secrets (CHAP accounts)
SHARED = 0o644


def write_atomically(path: str, text: str, mode: int) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one step, the new file with ``mode``.

    On any failure (a full disk, an interrupt) the old file is left as it was and the
    temporary file is removed; the error is raised.  The directory must exist.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), mode)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """fsync the directory, so that the rename itself is on disk."""
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
