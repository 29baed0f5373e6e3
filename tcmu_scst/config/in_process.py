"""An SCST tree object of this process, reached like a file system by the config code.

The daemon restores and saves its configuration with the code the config tool runs on a
mount, but it must never read its own FUSE mount: a write being served holds the tree's
lock, and a read through the mount would wait for the FUSE thread that is busy serving it.
So the daemon hands :class:`~tcmu_scst.config.sysfs.ScstSysfs` this adapter, which answers
from :class:`~tcmu_scst.compat_sysfs.nodes.Tree` directly (its lock is re-entrant).
"""

from __future__ import annotations

import errno

from ..compat_sysfs.nodes import Attribute, Directory, Link, Node, Tree


def _kind(node: Node) -> str:
    if isinstance(node, Link):
        return "link"
    return "dir" if isinstance(node, Directory) else "file"


class InProcessAccess:
    """:class:`~tcmu_scst.config.sysfs.TreeAccess` over a :class:`Tree` object."""

    def __init__(self, tree: Tree):
        self.tree = tree

    @staticmethod
    def _absolute(relative: str) -> str:
        return "/" + relative.strip("/")

    def kind(self, relative: str) -> str | None:
        try:
            node = self.tree.lookup(self._absolute(relative))
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise
        return _kind(node)

    def scan(self, relative: str) -> dict[str, str]:
        node = self.tree.lookup(self._absolute(relative))
        if not isinstance(node, Directory):
            raise OSError(errno.ENOTDIR, f"{relative}: not a directory")
        return {name: _kind(child) for name, child in node.entries().items()}

    def mode(self, relative: str) -> int:
        return self.tree.lookup(self._absolute(relative)).mode

    def readable(self, relative: str) -> bool:
        node = self.tree.lookup(self._absolute(relative))
        return isinstance(node, Attribute) and node.read is not None

    def hold(self) -> None:
        """Nothing to keep: a lookup in the tree object costs no round trip."""

    def release(self) -> None:
        """Nothing was kept."""

    def readlink(self, relative: str) -> str:
        node = self.tree.lookup(self._absolute(relative))
        if not isinstance(node, Link):
            raise OSError(errno.EINVAL, f"{relative}: not a link")
        return node.target

    def read(self, relative: str) -> str:
        return self.tree.read(self._absolute(relative))

    def write(self, relative: str, text: str) -> None:
        self.tree.write(self._absolute(relative), text)
