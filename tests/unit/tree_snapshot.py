"""A mounted SCST tree as one comparable value, and a readable account of two that differ.

Used to judge our config tool against SCST's own scstadmin: each applies the same file to a
fresh tree of ours, and the two trees must be equal file for file.  The snapshot is taken
through the mount with plain ``os`` calls, not with the config tool's own reader, so that a
fault in that reader cannot hide a difference.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# SCST names a device's export links export0, export1, ... in the order its LUNs were made;
# scstadmin adds a target's LUNs and its groups' LUNs in Perl's hash order, which changes
# from run to run, so only the set of links is compared, never which number each one got.
EXPORTS = "exported"


def snapshot(root: Path) -> dict[str, str]:
    """Every directory (``dir``), link (``-> target``) and file (its content, or why it
    cannot be read) under ``root``, by relative path; export links as one sorted set."""
    found: dict[str, str] = {}
    _walk(root, "", found)
    return found


def _walk(root: Path, relative: str, found: dict[str, str]) -> None:
    exports: list[str] = []
    with os.scandir(root / relative if relative else root) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            path = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_symlink():
                if relative.endswith(f"/{EXPORTS}"):
                    exports.append(os.readlink(entry.path))
                else:
                    found[path] = "-> " + os.readlink(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                found[path] = "dir"
                _walk(root, path, found)
            else:
                found[path] = _content(entry.path)
    if exports:
        found[f"{relative}/*"] = "links: " + ", ".join(sorted(exports))


def _content(path: str) -> str:
    mode = os.stat(path).st_mode
    if not mode & stat.S_IRUSR:
        return f"(write-only, mode {stat.S_IMODE(mode):o})"
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        return f"(read fails: {errno.errorcode.get(error.errno or 0, error.errno)})"


def difference(first: dict[str, str], second: dict[str, str],
               names: tuple[str, str] = ("perl", "ours")) -> str:
    """One line per path that differs: only in one tree, or both values shown."""
    lines = []
    for path in sorted(set(first) | set(second)):
        left, right = first.get(path), second.get(path)
        if left == right:
            continue
        if left is None:
            lines.append(f"only in {names[1]}: {path} = {right!r}")
        elif right is None:
            lines.append(f"only in {names[0]}: {path} = {left!r}")
        else:
            lines.append(f"differs: {path}: {names[0]} {left!r}, {names[1]} {right!r}")
    return "\n".join(lines)
