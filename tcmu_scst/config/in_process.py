"""An SCST tree object of this process, reached like a file system by the config code.

The daemon restores and saves its configuration with the code the config tool runs on a
mount, but it must never read its own FUSE mount: a write being served holds the tree's
lock, and a read through the mount would wait for the FUSE thread that is busy serving it.
So the daemon hands :class:`~tcmu_scst.config.sysfs.ScstSysfs` this adapter, which answers
from :class:`~tcmu_scst.compat_sysfs.nodes.Tree` directly (its locks are re-entrant).
"""

from __future__ import annotations

import errno
from collections.abc import Collection

from ..compat_sysfs.nodes import Attribute, Directory, Link, Node, Tree


def _kind(node: Node) -> str:
    if isinstance(node, Link):
        return "link"
    return "dir" if isinstance(node, Directory) else "file"


class InProcessAccess:
    """:class:`~tcmu_scst.config.sysfs.TreeAccess` over a :class:`Tree` object.

    Each call holds the tree's lock for itself only (a read of the whole tree is many calls,
    and readers of the mount get in between them).  While held (:meth:`hold`, for one
    :meth:`~tcmu_scst.config.sysfs.ScstSysfs.cached` scope) the nodes found are remembered
    by path, so a file is found from its directory's node instead of by a walk from the
    root; whoever holds must make sure the tree has not changed meanwhile (the daemon's
    saver compares the tree's ``generation``; a write through this access forgets them).
    """

    def __init__(self, tree: Tree):
        self.tree = tree
        self._nodes: dict[str, Node] | None = None

    def hold(self) -> None:
        if self._nodes is None:
            self._nodes = {"": self.tree.root}

    def release(self, keep: Collection[str] = ()) -> None:
        """Forget the nodes found (``keep`` does not matter: finding one again is cheap)."""
        self._nodes = None

    def _node(self, relative: str) -> Node:
        """The node at ``relative``; call with the tree's lock held."""
        relative = relative.strip("/")
        if self._nodes is None:
            return self.tree.lookup("/" + relative)
        node = self._nodes.get(relative)
        if node is None:
            parent, _, name = relative.rpartition("/")
            directory = self._node(parent)
            if not isinstance(directory, Directory):
                raise OSError(errno.ENOTDIR, f"{relative}: not a directory")
            node = directory.child(name)
            if node is None:
                raise OSError(errno.ENOENT, f"{relative}: no such file or directory")
            self._nodes[relative] = node
        return node

    def kind(self, relative: str) -> str | None:
        with self.tree.lock:
            try:
                node = self._node(relative)
            except OSError as error:
                if error.errno in (errno.ENOENT, errno.ENOTDIR):
                    return None
                raise
        return _kind(node)

    def scan(self, relative: str) -> dict[str, str]:
        with self.tree.lock:
            node = self._node(relative)
            if not isinstance(node, Directory):
                raise OSError(errno.ENOTDIR, f"{relative}: not a directory")
            entries = node.entries()
            if self._nodes is not None:
                prefix = f"{relative.strip('/')}/".lstrip("/")
                self._nodes.update((prefix + name, child) for name, child in entries.items())
        return {name: _kind(child) for name, child in entries.items()}

    def mode(self, relative: str) -> int:
        with self.tree.lock:
            return self._node(relative).mode

    def readable(self, relative: str) -> bool:
        with self.tree.lock:
            node = self._node(relative)
        return isinstance(node, Attribute) and node.read is not None

    def readlink(self, relative: str) -> str:
        with self.tree.lock:
            node = self._node(relative)
        if not isinstance(node, Link):
            raise OSError(errno.EINVAL, f"{relative}: not a link")
        return node.target

    def read(self, relative: str) -> str:
        with self.tree.lock:
            return self.tree.render(self._node(relative), self._absolute(relative))

    def snapshot(self, relative: str) -> None:
        """None: in this process an entry costs no round trip, so it is read when asked."""
        return None

    def read_many(self, relative: str, names: list[str]) -> dict[str, str | OSError]:
        found: dict[str, str | OSError] = {}
        for name in names:
            try:
                found[name] = self.read(f"{relative}/{name}")
            except OSError as error:
                found[name] = error
        return found

    def write(self, relative: str, text: str) -> None:
        self.tree.write(self._absolute(relative), text)

    @staticmethod
    def _absolute(relative: str) -> str:
        return "/" + relative.strip("/")
