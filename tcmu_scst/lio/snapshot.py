"""A whole configfs subtree as plain data, through the :class:`Configfs` interface only.

Works the same on the real kernel and on the emulation, which is how the VM test compares
the two, and how unit tests assert that a refused command left configfs exactly as it was.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from fnmatch import fnmatch

from .configfs import CfsPath, Configfs, ConfigfsError, cfs

GROUP = "/"


def snapshot(fs: Configfs, path: CfsPath = "target", skip: Iterable[str] = (),
             mask: Iterable[str] = (), values: bool = True) -> dict[str, str]:
    """``{relative path: content}`` for everything under ``path``.

    A group maps to ``"/"``, a symlink to ``"-> <target>"``, an attribute to its text (or
    ``"<ERRNO>"`` when reading fails, e.g. ``"<EACCES>"`` for write-only files; ``"?"`` for
    every attribute when ``values`` is False).  Paths matching a ``skip`` pattern (fnmatch,
    relative to ``path``) are left out, with everything below them; attributes matching a
    ``mask`` pattern are listed with ``"?"`` (for values that differ from host to host).
    """
    base = cfs(path)
    patterns = tuple(skip)
    masked = tuple(mask)
    result: dict[str, str] = {}

    def visit(relative: str) -> None:
        where = base / relative if relative else base
        for name in fs.listdir(where):
            child = f"{relative}/{name}" if relative else name
            if any(fnmatch(child, pattern) for pattern in patterns):
                continue
            full = where / name
            if fs.is_link(full):
                result[child] = f"-> {fs.readlink(full)}"
            elif fs.is_dir(full):
                result[child] = GROUP
                visit(child)
            else:
                hidden = not values or any(fnmatch(child, pattern) for pattern in masked)
                result[child] = "?" if hidden else _content(fs, full)

    visit("")
    return result


def _content(fs: Configfs, path: CfsPath) -> str:
    try:
        return fs.read(path)
    except ConfigfsError as error:
        return f"<{errno.errorcode.get(error.errno or 0, error.errno)}>"
