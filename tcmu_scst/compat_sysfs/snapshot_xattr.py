"""The answer to ``DIRECTORY_XATTR``: a directory and as much of the tree below it as fits.

A directory's snapshot saves the config tool a request per file and per link; nesting its
subdirectories (breadth first, while the answer stays within ``NESTED_BUDGET``) also saves
the two requests per subdirectory that opening it would cost (a lookup and the snapshot), so
a target with its LUNs and groups, or a device, is one request.  The top directory alone may
fill the kernel's limit (a driver with a thousand targets); past that the caller lists and
reads it entry by entry.  All of it is taken under one hold of the tree's lock: one
consistent picture.

Format (JSON): ``{name: [st_mode, shown]}`` where ``shown`` is a file's text, the errno its
read gives, a link's target, a nested object of the same form for an included directory,
or null for a directory not included and for ``mgmt`` (a help text: read it to know).
"""

from __future__ import annotations

import errno
import json
import stat
from collections import deque
from collections.abc import Iterator
from typing import Any

from .names import XATTR_SIZE_MAX
from .nodes import Tree, error_number

NESTED_BUDGET = XATTR_SIZE_MAX // 2  # subdirectories are added while the answer is smaller


def _flat(tree: Tree, path: str) -> dict[str, list[Any]]:
    """One directory's entries in the wire form, subdirectories not included."""
    return {name: [mode, error_number(shown) if isinstance(shown, OSError) else shown]
            for name, (mode, shown) in tree.snapshot(path).items()}


def _subdirectories(entries: dict[str, list[Any]],
                    where: str) -> Iterator[tuple[dict[str, list[Any]], str, str]]:
    """(the entries holding it, its path, its name) of each subdirectory not included yet."""
    for name, (mode, shown) in entries.items():
        if shown is None and stat.S_ISDIR(mode):
            yield entries, f"{where.rstrip('/')}/{name}", name


def _size(entries: dict[str, list[Any]]) -> int:
    return len(json.dumps(entries))


def encode_snapshot(tree: Tree, path: str) -> bytes:
    """The answer for the directory at ``path``; OSError ENOTDIR for anything else, E2BIG
    when even the directory alone does not fit the kernel's limit."""
    with tree.lock:
        top = _flat(tree, path)
        size = _size(top)
        pending = deque(_subdirectories(top, path))
        while pending and size < NESTED_BUDGET:
            parent, where, name = pending.popleft()
            nested = _flat(tree, where)
            added = _size(nested)
            if size + added > NESTED_BUDGET:
                break
            parent[name][1] = nested
            size += added
            pending.extend(_subdirectories(nested, where))
    encoded = json.dumps(top).encode("utf-8")
    if len(encoded) > XATTR_SIZE_MAX:  # the kernel could not pass it: the caller reads
        raise OSError(errno.E2BIG, f"{path}: entries too large for one request")
    return encoded


