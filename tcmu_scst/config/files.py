"""Saving scst.conf files: atomically, and private when they hold CHAP secrets.

A config file is what brings a system back after a reboot, so it is never left half
written: the text goes to a temporary file in the same directory, is flushed to disk, and
replaces the old file with one ``rename``; the directory is synced so the rename survives a
crash too.  ``IncomingUser``/``OutgoingUser`` lines carry CHAP secrets, so such a file is
created 0600 (the mode is set before any byte is written).
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from .model import Attributes, ScstConfig

SECRET_ATTRIBUTES = ("IncomingUser", "OutgoingUser")


def _secret(attributes: Attributes) -> bool:
    return any(name.rstrip("0123456789") in SECRET_ATTRIBUTES for name in attributes.names())


def has_secrets(config: ScstConfig) -> bool:
    """True when any block carries a CHAP account."""
    if _secret(config.attributes):
        return True
    for driver in config.drivers.values():
        if _secret(driver.attributes):
            return True
        for target in driver.targets.values():
            if _secret(target.attributes) or any(_secret(group.attributes)
                                                 for group in target.groups.values()):
                return True
    return False


def save_atomically(path: str, text: str, secret: bool) -> None:
    """Replace ``path`` with ``text`` in one step (temp file, fsync, rename, dir fsync)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    mode = 0o600 if secret else 0o644
    fd, temporary = tempfile.mkstemp(prefix=".scst.conf.", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
